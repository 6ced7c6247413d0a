import { InjectQueue, Processor } from '@nestjs/bullmq';
import { Inject, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { Job, Queue } from 'bullmq';
import { jobsConfig } from '../../config/jobs.config.js';
import { SessionsService } from '../../session/sessions.service.js';
import { FLUSH_EXPIRED_JOB, MAINTENANCE_QUEUE } from '../job-names.js';
import { LoggedWorkerHost } from './logged-worker-host.js';

/** The repeatable cleanup (Django's flushexpiredtokens), every MAINTENANCE_INTERVAL_MS. */
@Processor(MAINTENANCE_QUEUE)
export class MaintenanceProcessor extends LoggedWorkerHost implements OnApplicationBootstrap {
  protected readonly logger = new Logger(MaintenanceProcessor.name);

  constructor(
    private readonly sessions: SessionsService,
    @InjectQueue(MAINTENANCE_QUEUE) private readonly queue: Queue,
    @Inject(jobsConfig.KEY) private readonly config: ConfigType<typeof jobsConfig>,
  ) {
    super();
  }

  /** Idempotent: every worker upserts the same scheduler, BullMQ keeps one. */
  async onApplicationBootstrap(): Promise<void> {
    await this.queue.upsertJobScheduler(FLUSH_EXPIRED_JOB, { every: this.config.maintenanceIntervalMs }, { name: FLUSH_EXPIRED_JOB });
  }

  async process(job: Job): Promise<{ sessions: number; blacklisted: number }> {
    if (job.name !== FLUSH_EXPIRED_JOB) throw new Error(`unknown maintenance job ${job.name}`);
    const removed = await this.sessions.flushExpired();
    this.logger.log(`flushed ${removed.sessions} expired sessions and ${removed.blacklisted} blacklist rows`);
    return removed;
  }
}
