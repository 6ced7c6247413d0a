import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Queue } from 'bullmq';
import type { DataSource, EntityManager } from 'typeorm';
import { jobsConfig } from '../config/jobs.config.js';
import { MAIL_QUEUE, type MailJobName, type MailJobs } from './job-names.js';
import { OutboxMessage } from './outbox-message.entity.js';

const RELAY_BATCH = 100;
const ENQUEUE_TIMEOUT_MS = 2000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error as Error);
      },
    );
  });
}

/**
 * Transactional outbox: a job that must not be lost (an e-mail) is written to PostgreSQL in the
 * same transaction as the change that needs it, then relayed to BullMQ — at once after the commit,
 * and again every OUTBOX_RELAY_INTERVAL_MS for whatever Redis did not take. The BullMQ job id is
 * the outbox id, so relaying a row twice (two processes, a timeout that did reach Redis) adds one job.
 */
@Injectable()
export class OutboxService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(OutboxService.name);
  private timer: NodeJS.Timeout | undefined;
  private relaying: Promise<number> | undefined;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectQueue(MAIL_QUEUE) private readonly mailQueue: Queue,
    @Inject(jobsConfig.KEY) private readonly config: ConfigType<typeof jobsConfig>,
  ) {}

  /** Records a mail job inside the caller's transaction; call `relaySoon()` after the commit. */
  async addMail<Name extends MailJobName>(manager: EntityManager, name: Name, payload: MailJobs[Name]): Promise<void> {
    await manager.insert(OutboxMessage, { queue: MAIL_QUEUE, name, payload });
  }

  /** Relays pending rows now, without making the caller wait or fail. */
  relaySoon(): void {
    void this.relay().catch((error: Error) => this.logger.warn(`outbox relay failed: ${error.message}`));
  }

  /** Moves pending rows to their queue; safe to run from several processes (SKIP LOCKED). */
  relay(): Promise<number> {
    // One relay at a time per process; a call during a run shares it.
    this.relaying ??= this.relayBatch().finally(() => (this.relaying = undefined));
    return this.relaying;
  }

  private async relayBatch(): Promise<number> {
    return this.dataSource.transaction(async (manager) => {
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
      return relayed.length;
    });
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => this.relaySoon(), this.config.outboxRelayIntervalMs);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.relaying?.catch(() => undefined);
  }
}
