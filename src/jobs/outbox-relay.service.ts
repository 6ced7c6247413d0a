import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { Queue } from 'bullmq';
import pg from 'pg';
import { withTimeout } from '../common/async/with-timeout.js';
import { databaseConfig, pgSsl } from '../config/database.config.js';
import { jobsConfig } from '../config/jobs.config.js';
import { MAIL_QUEUE } from './job-names.js';
import { OUTBOX_CHANNEL } from './outbox.service.js';
import { Transactions } from '../database/transactions.service.js';

const RELAY_BATCH = 100;
const ENQUEUE_TIMEOUT_MS = 2000;
const LISTEN_RETRY_MS = 1000;

/**
 * Transactional outbox, relay side (worker): moves pending outbox rows to their BullMQ queue as soon
 * as a commit NOTIFYs them (a LISTEN connection), and every OUTBOX_RELAY_INTERVAL_MS for whatever
 * Redis did not take. Safe from several workers at once (FOR UPDATE SKIP LOCKED); the BullMQ job id
 * is the outbox id, so a row relayed twice (a timeout that did reach Redis) is still one job.
 */
@Injectable()
export class OutboxRelay implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(OutboxRelay.name);
  private timer: NodeJS.Timeout | undefined;
  private listener: pg.Client | undefined;
  private stopped = false;
  private running: Promise<number> | undefined;
  private again = false;

  constructor(
    private readonly transactions: Transactions,
    @InjectQueue(MAIL_QUEUE) private readonly mailQueue: Queue,
    @Inject(jobsConfig.KEY) private readonly jobs: ConfigType<typeof jobsConfig>,
    @Inject(databaseConfig.KEY) private readonly database: ConfigType<typeof databaseConfig>,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => this.relaySoon(), this.jobs.outboxRelayIntervalMs);
    this.timer.unref();
    void this.listen();
    this.relaySoon(); // rows left from before this worker started
  }

  /** Relays now (or right after the run in progress), without making the caller wait or fail. */
  relaySoon(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.relayBatch()
      .catch((error: Error) => {
        this.logger.warn(`outbox relay failed: ${error.message}`);
        return 0;
      })
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.relaySoon();
        }
      });
  }

  /** Moves one batch of pending rows to their queue; returns how many. */
  async relayBatch(): Promise<number> {
    return this.transactions.run(async (manager) => {
      const rows: Array<{ id: string; queue: string; name: string; payload: Record<string, unknown> }> = await manager.query(
        `SELECT id, queue, name, payload FROM outbox WHERE dispatched_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [RELAY_BATCH],
      );
      const relayed: string[] = [];
      for (const row of rows) {
        if (row.queue !== MAIL_QUEUE) continue;
        try {
          await withTimeout(this.mailQueue.add(row.name, row.payload, { jobId: `outbox-${row.id}` }), ENQUEUE_TIMEOUT_MS);
          relayed.push(row.id);
        } catch (error) {
          this.logger.warn(`outbox: Redis did not take job ${row.id} yet (${(error as Error).message}); will retry`);
          break;
        }
      }
      if (relayed.length > 0) {
        await manager.query('UPDATE outbox SET dispatched_at = now() WHERE id = ANY($1::bigint[])', [relayed]);
      }
      if (relayed.length === RELAY_BATCH) this.again = true;
      return relayed.length;
    });
  }

  /** A dedicated connection LISTENs for commits that wrote outbox rows; it reconnects on loss. */
  private async listen(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({
      connectionString: this.database.url,
      ssl: pgSsl(this.database),
      application_name: 'auth-outbox-listener',
    });
    const retry = () => {
      if (this.listener !== client) return;
      this.listener = undefined;
      client.end().catch(() => undefined);
      if (!this.stopped) setTimeout(() => void this.listen(), LISTEN_RETRY_MS).unref();
    };
    this.listener = client;
    client.on('notification', () => this.relaySoon());
    client.on('error', (error: Error) => {
      this.logger.warn(`outbox listener lost its connection (${error.message}); reconnecting`);
      retry();
    });
    client.on('end', retry);
    try {
      await client.connect();
      await client.query(`LISTEN ${OUTBOX_CHANNEL}`);
      this.relaySoon(); // anything committed while we were not listening
    } catch (error) {
      this.logger.warn(`outbox listener could not connect (${(error as Error).message}); retrying`);
      retry();
    }
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
    await this.running;
  }
}
