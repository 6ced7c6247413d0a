import { Module } from '@nestjs/common';
import { OutboxService } from './outbox.service.js';

/** The producer side of the outbox: needs only PostgreSQL (the web process loads no BullMQ). */
@Module({
  providers: [OutboxService],
  exports: [OutboxService],
})
export class OutboxModule {}
