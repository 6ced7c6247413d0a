import { OnWorkerEvent, WorkerHost } from '@nestjs/bullmq';
import type { Logger } from '@nestjs/common';
import type { Job } from 'bullmq';

/**
 * A processor base that logs its worker's connection errors (each distinct message once: BullMQ
 * would print every reconnect attempt) and every failed attempt of a job.
 */
export abstract class LoggedWorkerHost extends WorkerHost {
  protected abstract readonly logger: Logger;
  private lastWorkerError = '';

  @OnWorkerEvent('error')
  onWorkerError(error: Error): void {
    if (error.message !== this.lastWorkerError) this.logger.warn(`worker: ${error.message}`);
    this.lastWorkerError = error.message;
  }

  @OnWorkerEvent('failed')
  onFailed(job: Job | undefined, error: Error): void {
    this.logger.warn(`job ${job?.name ?? '?'} ${job?.id ?? ''} failed (attempt ${job?.attemptsMade ?? '?'}): ${error.message}`);
  }
}
