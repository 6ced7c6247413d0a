import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { JobsMetrics } from './jobs-metrics.service.js';
import { OutboxMessage } from './outbox-message.entity.js';
import { OutboxService } from './outbox.service.js';

/**
 * The producer side of the outbox: needs only PostgreSQL (the web process loads no BullMQ). Owns the
 * outbox table. Also reports the outbox backlog and the queue depths on /metrics, which the web process serves.
 */
@Module({
  imports: [TypeOrmModule.forFeature([OutboxMessage])],
  providers: [OutboxService, JobsMetrics],
  exports: [OutboxService],
})
export class OutboxModule {}
