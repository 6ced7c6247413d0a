import { type DynamicModule, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { AppCacheModule } from './cache/app-cache.module.js';
import { EventsModule } from './common/events/events.module.js';
import { appConfig } from './config/app.config.js';
import { authConfig } from './config/auth.config.js';
import { databaseConfig } from './config/database.config.js';
import { jobsConfig } from './config/jobs.config.js';
import { mailConfig } from './config/mail.config.js';
import { metricsConfig } from './config/metrics.config.js';
import { passwordConfig } from './config/password.config.js';
import { rateLimitConfig } from './config/rate-limit.config.js';
import { redisConfig } from './config/redis.config.js';
import { DatabaseModule } from './database/database.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { RedisModule } from './redis/redis.module.js';

export interface CoreModuleOptions {
  /**
   * Load the shared Redis client (default true). False in embedded mode without REDIS_URL: there is
   * then no RedisService to inject, and each Redis role (revocation records, caches, rate limits)
   * runs in this process's memory instead.
   */
  redis?: boolean;
}

/**
 * What every process of the service shares, whichever root loads it (API, worker, CLI commands):
 * configuration, PostgreSQL, Redis, metrics, the caches, and the in-process domain events.
 */
@Module({})
export class CoreModule {
  static forRoot(options: CoreModuleOptions = {}): DynamicModule {
    return {
      module: CoreModule,
      imports: [
        // Configuration comes from the environment only (no .env file is read); each area validates itself.
        ConfigModule.forRoot({
          isGlobal: true,
          ignoreEnvFile: true,
          load: [appConfig, authConfig, databaseConfig, redisConfig, rateLimitConfig, jobsConfig, mailConfig, passwordConfig, metricsConfig],
        }),
        DatabaseModule,
        ...(options.redis === false ? [] : [RedisModule]),
        MetricsModule,
        AppCacheModule,
        EventsModule,
      ],
    };
  }
}
