import { type DynamicModule, Module } from '@nestjs/common';
import { AuthenticationModule } from './auth/authentication.module.js';
import { AuthModule } from './auth/auth.module.js';
import { jobsConfig } from './config/jobs.config.js';
import { CoreModule } from './core.module.js';
import { EmbeddedModule } from './embedded/embedded.module.js';
import type { EmbeddedRuntime } from './embedded/embedded-runtime.js';
import { HealthModule } from './health/health.module.js';
import { WorkerModule } from './jobs/worker.module.js';
import { MetricsApiModule } from './metrics/metrics-api.module.js';
import { RateLimitModule } from './rate-limit/rate-limit.module.js';
import { SessionApiModule } from './session/session-api.module.js';
import { UsersApiModule } from './users/users-api.module.js';

export interface AppModuleOptions {
  /** Also load the BullMQ consumers (default: RUN_WORKER_IN_WEB). */
  worker?: boolean;
  /**
   * Embedded mode (DATABASE_URL or REDIS_URL unset, development/test; started by the entry point):
   * no Redis client when REDIS_URL is unset (each Redis role then runs in memory), and the jobs run
   * in this process from the outbox instead of on BullMQ.
   */
  embedded?: EmbeddedRuntime;
}

/**
 * The API root (`dist/main.js`): the HTTP controllers, the global authentication guard and rate
 * limits, on the shared core. The worker process has its own root without controllers
 * (WorkerAppModule); RUN_WORKER_IN_WEB=true loads the consumers here too.
 */
@Module({})
export class AppModule {
  static forRoot(options: AppModuleOptions = {}): DynamicModule {
    const worker = options.worker ?? jobsConfig().runWorkerInWeb;
    return {
      module: AppModule,
      imports: [
        CoreModule.forRoot({ redis: !options.embedded?.mode.redis }),
        MetricsApiModule,
        RateLimitModule,
        AuthenticationModule,
        UsersApiModule,
        SessionApiModule,
        AuthModule,
        HealthModule,
        ...(options.embedded ? [EmbeddedModule.forRoot(options.embedded)] : worker ? [WorkerModule] : []),
      ],
    };
  }
}
