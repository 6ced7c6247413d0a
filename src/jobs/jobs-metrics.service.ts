import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit, Optional } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { Queue } from 'bullmq';
import type { DataSource } from 'typeorm';
import { withTimeout } from '../common/async/with-timeout.js';
import { jobsConfig } from '../config/jobs.config.js';
import { redisConfig } from '../config/redis.config.js';
import { Metrics } from '../metrics/metrics.js';
import { RedisService } from '../redis/redis.service.js';
import { MAIL_QUEUE, MAINTENANCE_QUEUE } from './job-names.js';

const QUEUES = [MAIL_QUEUE, MAINTENANCE_QUEUE];
const STATES = ['waiting', 'active', 'delayed', 'failed', 'prioritized', 'waiting-children'] as const;
/** A scrape must not hang on a backing service that does not answer. */
const READ_TIMEOUT_MS = 2000;

/**
 * The outbox backlog and the BullMQ queue depths, as gauges read when /metrics is scraped (the web
 * process serves the scrape, so it asks PostgreSQL and BullMQ itself; nothing runs between scrapes).
 * The queue handles are made on the first scrape, on one connection, and only when metrics are on.
 */
@Injectable()
export class JobsMetrics implements OnModuleInit, OnModuleDestroy {
  private queues: Queue[] | undefined;

  constructor(
    private readonly metrics: Metrics,
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(jobsConfig.KEY) private readonly jobs: ConfigType<typeof jobsConfig>,
    @Inject(redisConfig.KEY) private readonly redisSettings: ConfigType<typeof redisConfig>,
    // Absent in embedded mode without REDIS_URL: there are no BullMQ queues to count (jobs run in process).
    @Optional() private readonly redis?: RedisService,
  ) {}

  onModuleInit(): void {
    if (!this.metrics.enabled) return;
    this.metrics.gauge({
      name: 'auth_outbox_backlog',
      help: 'Outbox rows (e-mails to send) not yet handed to BullMQ',
      read: async () => {
        const rows: Array<{ pending: string }> = await withTimeout(
          this.dataSource.query('SELECT count(*) AS pending FROM outbox WHERE dispatched_at IS NULL'),
          READ_TIMEOUT_MS,
        );
        return [{ value: Number(rows[0].pending) }];
      },
    });
    if (!this.redis) return;
    this.metrics.gauge({
      name: 'auth_queue_jobs',
      help: 'BullMQ jobs by queue and state (failed: attempts used up, see npm run jobs:failed)',
      labelNames: ['queue', 'state'],
      read: async () => {
        const readings = [];
        for (const queue of this.handles()) {
          const counts = await withTimeout(queue.getJobCounts(...STATES), READ_TIMEOUT_MS);
          for (const state of STATES) readings.push({ labels: { queue: queue.name, state }, value: counts[state] ?? 0 });
        }
        return readings;
      },
    });
  }

  private handles(): Queue[] {
    if (!this.queues) {
      const connection = this.redis!.createConnection('metrics');
      const prefix = `${this.redisSettings.keyPrefix}${this.jobs.prefix}`;
      this.queues = QUEUES.map((name) => {
        const queue = new Queue(name, { connection, prefix });
        // RedisService already logs the connection's errors; a failed read shows as a failed gauge.
        queue.on('error', () => undefined);
        return queue;
      });
    }
    return this.queues;
  }

  async onModuleDestroy(): Promise<void> {
    // The shared connection itself is closed by RedisService. With Redis down a close would wait
    // for it: shutdown does not.
    await Promise.all((this.queues ?? []).map((queue) => withTimeout(queue.close(), READ_TIMEOUT_MS).catch(() => undefined)));
  }
}
