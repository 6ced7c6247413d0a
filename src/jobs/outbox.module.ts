import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { jobsConfig } from '../config/jobs.config.js';
import { redisConfig } from '../config/redis.config.js';
import { JobsMetrics } from './jobs-metrics.service.js';
import { OutboxService } from './outbox.service.js';

/**
 * The producer side of the outbox: needs only PostgreSQL (the web process loads no BullMQ). Also
 * reports the outbox backlog and the queue depths on /metrics, which the web process serves.
 */
@Module({
  imports: [ConfigModule.forFeature(jobsConfig), ConfigModule.forFeature(redisConfig)],
  providers: [OutboxService, JobsMetrics],
  exports: [OutboxService],
})
export class OutboxModule {}
