import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { ConfigModule, type ConfigType } from '@nestjs/config';
import { jobsConfig } from '../config/jobs.config.js';
import { RedisService } from '../redis/redis.service.js';
import { MAIL_QUEUE, MAINTENANCE_QUEUE } from './job-names.js';
import { OutboxService } from './outbox.service.js';
import { QueueMonitor } from './queue-monitor.service.js';

/**
 * Queues and producers (the outbox). Imported by web and worker alike; the consumers live in
 * WorkerModule, which only the worker process (or RUN_WORKER_IN_WEB) loads.
 */
@Module({
  imports: [
    ConfigModule.forFeature(jobsConfig),
    BullModule.forRootAsync({
      imports: [ConfigModule.forFeature(jobsConfig)],
      inject: [RedisService, jobsConfig.KEY],
      useFactory: (redis: RedisService, config: ConfigType<typeof jobsConfig>) => ({
        connection: redis.bullConnection(),
        // Hash-tagged, so each queue's keys stay in one Redis Cluster slot.
        prefix: config.prefix,
        defaultJobOptions: {
          attempts: config.attempts,
          backoff: { type: 'exponential', delay: config.backoffMs },
          // Completed jobs are kept a week, so a repeated enqueue with the same job id stays harmless.
          removeOnComplete: { age: 7 * 86_400, count: 10_000 },
          // Failed jobs stay in the failed set until an operator retries them (npm run jobs:failed).
          removeOnFail: false,
        },
      }),
    }),
    BullModule.registerQueue({ name: MAIL_QUEUE }, { name: MAINTENANCE_QUEUE }),
  ],
  providers: [OutboxService, QueueMonitor],
  exports: [OutboxService, BullModule],
})
export class JobsModule {}
