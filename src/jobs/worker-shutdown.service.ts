import { Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { MailProcessor } from './processors/mail.processor.js';
import { MaintenanceProcessor } from './processors/maintenance.processor.js';

/**
 * Stops the consumers before anything else closes: no new job is taken, the running ones finish
 * (BullMQ's worker.close waits for them), and only then do the Redis and PostgreSQL pools close.
 * The whole shutdown is bounded by SHUTDOWN_GRACE_MS (see exitGracefullyOnSignals).
 */
@Injectable()
export class WorkerShutdown implements BeforeApplicationShutdown {
  private readonly logger = new Logger(WorkerShutdown.name);

  constructor(
    private readonly mail: MailProcessor,
    private readonly maintenance: MaintenanceProcessor,
  ) {}

  async beforeApplicationShutdown(): Promise<void> {
    this.logger.log('stopping job consumers; waiting for running jobs');
    await Promise.all([this.mail.worker.close(), this.maintenance.worker.close()]);
  }
}
