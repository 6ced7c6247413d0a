import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { jobsConfig } from '../config/jobs.config.js';
import { redisConfig } from '../config/redis.config.js';
import { RedisService } from '../redis/redis.service.js';
import { MAIL_QUEUE, MAINTENANCE_QUEUE } from './job-names.js';
import { OutboxRelay } from './outbox-relay.service.js';
import { QueueMonitor } from './queue-monitor.service.js';

export const COMPLETED_JOB_RETENTION_SECONDS = 3600;

/**
 * BullMQ: the connection, the queues, and the outbox relay that feeds them. Loaded by the worker
 * (WorkerModule; the web process too with RUN_WORKER_IN_WEB) and by the jobs:failed command; the
 * web process itself only writes outbox rows (OutboxModule).
 */
@Module({
  imports: [
    BullModule.forRootAsync({
      inject: [RedisService, jobsConfig.KEY, redisConfig.KEY],
      useFactory: (redis: RedisService, config: ConfigType<typeof jobsConfig>, redisSettings: ConfigType<typeof redisConfig>) => ({
        connection: redis.bullConnection(),
        // Under the deployment's REDIS_KEY_PREFIX like every other key (BullMQ refuses ioredis's own
        // keyPrefix, so it goes into BullMQ's), and hash-tagged, so each queue stays in one Redis Cluster slot.
        prefix: `${redisSettings.keyPrefix}${config.prefix}`,
        defaultJobOptions: {
          attempts: config.attempts,
          backoff: { type: 'exponential', delay: config.backoffMs },
          // Completed jobs are kept an hour: long enough that the outbox relay re-adding a row it had
          // already handed over (a commit lost after the add) is still the same job, not a second e-mail.
          removeOnComplete: { age: COMPLETED_JOB_RETENTION_SECONDS, count: 1000 },
          // Failed jobs stay in the failed set until an operator retries them (npm run jobs:failed).
          removeOnFail: false,
        },
      }),
    }),
    BullModule.registerQueue({ name: MAIL_QUEUE }, { name: MAINTENANCE_QUEUE }),
  ],
  providers: [OutboxRelay, QueueMonitor],
  exports: [OutboxRelay, BullModule],
})
export class JobsModule {}
