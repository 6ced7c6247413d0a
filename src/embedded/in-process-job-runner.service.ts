import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Job } from 'bullmq';
import pLimit from 'p-limit';
import type { DataSource } from 'typeorm';
import { jobsConfig } from '../config/jobs.config.js';
import { MAIL_QUEUE } from '../jobs/job-names.js';
import { MailProcessor } from '../jobs/processors/mail.processor.js';
import { MaintenanceProcessor } from '../jobs/processors/maintenance.processor.js';
import type { LoggedWorkerHost } from '../jobs/processors/logged-worker-host.js';
import { InProcessScheduler } from './in-process-scheduler.js';

const OUTBOX_BATCH = 100;

interface OutboxRow {
  id: string;
  queue: string;
  name: string;
  payload: Record<string, unknown>;
}

type Outcome = 'completed' | 'failed' | 'abandoned';

/**
 * The jobs of embedded mode, run in this process without BullMQ (it needs Redis): the outbox is
 * polled every OUTBOX_RELAY_INTERVAL_MS (no LISTEN: PGlite serves one session, which the pool
 * holds), and each row runs through the worker's own processor with JOB_ATTEMPTS attempts and
 * exponential backoff from JOB_BACKOFF_MS, MAIL_CONCURRENCY at once. A row is marked dispatched only
 * once its job completed or used up its attempts, so a job cut short by a restart runs again after
 * it (at least once, like a BullMQ job whose worker died). A job that used up its attempts is
 * logged as an error and not retried: there is no failed set to keep it in. The maintenance job
 * (expired sessions and blacklist rows) runs on the schedule MaintenanceProcessor asks for.
 */
@Injectable()
export class InProcessJobRunner implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(InProcessJobRunner.name);
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly inFlight = new Set<string>();
  private readonly running = new Set<Promise<unknown>>();
  private readonly backoffs = new Set<() => void>();
  private readonly mailSlots: ReturnType<typeof pLimit>;
  private polling: Promise<void> | undefined;
  private stopped = false;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly mail: MailProcessor,
    private readonly maintenance: MaintenanceProcessor,
    scheduler: InProcessScheduler,
    @Inject(jobsConfig.KEY) private readonly config: ConfigType<typeof jobsConfig>,
  ) {
    this.mailSlots = pLimit(config.mailConcurrency);
    scheduler.onSchedule((name, everyMs) => {
      this.timers.push(setInterval(() => this.track(this.run(this.maintenance, `${name}:${Date.now()}`, name, {})), everyMs).unref());
    });
  }

  onApplicationBootstrap(): void {
    this.timers.push(setInterval(() => this.pollSoon(), this.config.outboxRelayIntervalMs).unref());
    this.pollSoon(); // rows left from before this start
  }

  /** Polls the outbox now, unless a poll is running. */
  pollSoon(): void {
    if (this.stopped || this.polling) return;
    this.polling = this.poll()
      .catch((error: Error) => this.logger.warn(`outbox poll failed: ${error.message}`))
      .finally(() => (this.polling = undefined));
  }

  private async poll(): Promise<void> {
    const rows: OutboxRow[] = await this.dataSource.query(
      'SELECT id, queue, name, payload FROM outbox WHERE dispatched_at IS NULL ORDER BY id LIMIT $1',
      [OUTBOX_BATCH + this.inFlight.size],
    );
    for (const row of rows) {
      if (row.queue !== MAIL_QUEUE || this.inFlight.has(row.id) || this.stopped) continue;
      this.inFlight.add(row.id);
      this.track(
        this.mailSlots(() => this.run(this.mail, `outbox-${row.id}`, row.name, row.payload))
          .then(async (outcome) => {
            if (outcome !== 'abandoned') await this.dataSource.query('UPDATE outbox SET dispatched_at = now() WHERE id = $1', [row.id]);
          })
          .catch((error: Error) => this.logger.warn(`outbox row ${row.id}: ${error.message}; it will run again`))
          .finally(() => this.inFlight.delete(row.id)),
      );
    }
  }

  /** One job through its processor, with the configured attempts and exponential backoff (as BullMQ). */
  private async run(processor: LoggedWorkerHost, id: string, name: string, data: unknown): Promise<Outcome> {
    for (let attempt = 1; ; attempt++) {
      if (this.stopped) return 'abandoned';
      const job = { id, name, data, attemptsMade: attempt - 1 } as unknown as Job;
      try {
        await processor.process(job);
        return 'completed';
      } catch (error) {
        job.attemptsMade = attempt;
        processor.onFailed(job, error as Error);
        if (attempt >= this.config.attempts) {
          this.logger.error(`job ${name} ${id} failed all ${attempt} attempts; not retried (embedded mode has no failed set)`);
          return 'failed';
        }
        await this.backoff(this.config.backoffMs * 2 ** (attempt - 1));
      }
    }
  }

  /** Waits, or less when the application stops (the job is then abandoned and runs after a restart). */
  private backoff(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.backoffs.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.backoffs.add(done);
    });
  }

  private track(promise: Promise<unknown>): void {
    const tracked = promise.catch(() => undefined).finally(() => this.running.delete(tracked));
    this.running.add(tracked);
  }

  /** Stops taking jobs and lets the running ones finish (a job waiting for its next attempt is left). */
  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    for (const wake of [...this.backoffs]) wake();
    await this.polling;
    await Promise.allSettled([...this.running]);
  }
}
