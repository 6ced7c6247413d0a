import { type DynamicModule, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { EmbeddedRuntime } from './embedded-runtime.js';
import { InProcessJobsModule } from './in-process-jobs.module.js';

/** Closes the embedded PostgreSQL once the application has shut down (after TypeORM's pool). */
@Injectable()
class EmbeddedShutdown implements OnApplicationShutdown {
  constructor(private readonly runtime: EmbeddedRuntime) {}

  async onApplicationShutdown(): Promise<void> {
    await this.runtime.close();
  }
}

/**
 * Embedded mode's part of the application (DATABASE_URL or REDIS_URL unset; development and test):
 * the jobs, run in this process, and the embedded PostgreSQL's shutdown. The in-memory Redis roles
 * are chosen where each role is provided — SessionModule (revocation records), AppCacheModule and
 * ResponseCache, RateLimitService, ReplicaReader (read-your-writes), HealthController and
 * JobsMetrics (nothing to probe or count): there is no RedisService to inject when AppModule loads
 * CoreModule.forRoot({ redis: false }).
 */
@Module({})
export class EmbeddedModule {
  static forRoot(runtime: EmbeddedRuntime): DynamicModule {
    return {
      module: EmbeddedModule,
      imports: [InProcessJobsModule],
      providers: [{ provide: EmbeddedRuntime, useValue: runtime }, EmbeddedShutdown],
    };
  }
}
