import { type DynamicModule, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { AuthModule } from './auth/auth.module.js';
import { AppCacheModule } from './cache/app-cache.module.js';
import { appConfig } from './config/app.config.js';
import { authConfig } from './config/auth.config.js';
import { databaseConfig } from './config/database.config.js';
import { jobsConfig, readJobsConfig } from './config/jobs.config.js';
import { mailConfig } from './config/mail.config.js';
import { rateLimitConfig } from './config/rate-limit.config.js';
import { redisConfig } from './config/redis.config.js';
import { DatabaseModule } from './database/database.module.js';
import { EmbeddedModule } from './embedded/embedded.module.js';
import type { EmbeddedRuntime } from './embedded/embedded-runtime.js';
import { HealthModule } from './health/health.module.js';
import { WorkerModule } from './jobs/worker.module.js';
import { RateLimitModule } from './rate-limit/rate-limit.module.js';
import { RedisModule } from './redis/redis.module.js';
import { SessionModule } from './session/session.module.js';
import { UsersModule } from './users/users.module.js';

export interface AppModuleOptions {
  /** Load the BullMQ consumers (worker process; default: RUN_WORKER_IN_WEB). */
  worker?: boolean;
  /**
   * Embedded mode (DATABASE_URL or REDIS_URL unset, development/test; started by the entry point):
   * no RedisModule when REDIS_URL is unset (each Redis role then runs in memory), and the jobs run
   * in this process from the outbox instead of on BullMQ.
   */
  embedded?: EmbeddedRuntime;
}

/** The whole service. Web (`dist/main.js`) and worker (`dist/worker.js`) load the same modules and config. */
@Module({})
export class AppModule {
  static forRoot(options: AppModuleOptions = {}): DynamicModule {
    const worker = options.worker ?? readJobsConfig(process.env).runWorkerInWeb;
    return {
      module: AppModule,
      imports: [
        // Configuration comes from the environment only (no .env file is read); each area validates itself.
        ConfigModule.forRoot({
          isGlobal: true,
          ignoreEnvFile: true,
          load: [appConfig, authConfig, databaseConfig, redisConfig, rateLimitConfig, jobsConfig, mailConfig],
        }),
        DatabaseModule,
        ...(options.embedded?.mode.redis ? [] : [RedisModule]),
        AppCacheModule,
        RateLimitModule,
        UsersModule,
        SessionModule,
        AuthModule,
        HealthModule,
        ...(options.embedded ? [EmbeddedModule.forRoot(options.embedded)] : worker ? [WorkerModule] : []),
      ],
    };
  }
}
