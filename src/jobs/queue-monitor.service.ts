import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { MAIL_QUEUE, MAINTENANCE_QUEUE } from './job-names.js';

/**
 * Gives every queue of the process an error listener that logs each distinct connection error once
 * (without a listener BullMQ prints every reconnect attempt to stderr).
 */
@Injectable()
export class QueueMonitor {
  private readonly logger = new Logger('Queues');

  constructor(@InjectQueue(MAIL_QUEUE) mail: Queue, @InjectQueue(MAINTENANCE_QUEUE) maintenance: Queue) {
    this.listen(mail, MAIL_QUEUE);
    this.listen(maintenance, MAINTENANCE_QUEUE);
  }

  private listen(queue: Queue, name: string): void {
    let last = '';
    queue.on('error', (error: Error) => {
      if (error.message !== last) this.logger.warn(`queue ${name}: ${error.message}`);
      last = error.message;
    });
  }
}
