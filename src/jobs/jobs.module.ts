import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { ConfigModule, type ConfigType } from '@nestjs/config';
import { databaseConfig } from '../config/database.config.js';
import { jobsConfig } from '../config/jobs.config.js';
import { RedisService } from '../redis/redis.service.js';
import { MAIL_QUEUE, MAINTENANCE_QUEUE } from './job-names.js';
import { OutboxRelay } from './outbox-relay.service.js';
import { QueueMonitor } from './queue-monitor.service.js';

/**
 * BullMQ: the connection, the queues, and the outbox relay that feeds them. Loaded by the worker
 * (WorkerModule; the web process too with RUN_WORKER_IN_WEB) and by the jobs:failed command; the
 * web process itself only writes outbox rows (OutboxModule).
 */
@Module({
  imports: [
    ConfigModule.forFeature(jobsConfig),
    ConfigModule.forFeature(databaseConfig),
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
  providers: [OutboxRelay, QueueMonitor],
  exports: [OutboxRelay, BullModule],
})
export class JobsModule {}
