import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { ExpiringMap } from '../common/memory/expiring-map.js';
import { databaseConfig } from '../config/database.config.js';
import { RedisKeys } from '../redis/redis-keys.js';
import { RedisService } from '../redis/redis.service.js';
import { ReplicaPools } from './replica-pools.service.js';

export interface ReplicaReadOptions<Row> {
  /** Whether the replica's answer may be lagging (e.g. a row that was just written is missing). */
  isStale?: (rows: Row[]) => boolean;
  /**
   * Read-your-writes: the scope of the data read (e.g. `user:42`). After `wrote(scope)`, a replica
   * serves this scope only once it has replayed that write; until then the primary answers.
   */
  scope?: string;
}

/**
 * Runs a read on a read replica when one is configured, and falls back to the primary when the
 * replica is down, errors, has not caught up with a write of the same scope, or gives an answer
 * `isStale` rejects. Reads that decide authentication never come here: they use the primary.
 *
 * Read-your-writes: a change that a reader must see at once (a profile change, an e-mail
 * verification) calls `wrote(scope)` after its commit; that records the primary's WAL position in
 * Redis for DATABASE_READ_YOUR_WRITES_SECONDS, and reads of the scope then ask the replica whether
 * it has replayed that far. So a lagging replica cannot refill a cache with the row as it was.
 * Without Redis (embedded mode, REDIS_URL unset: one instance) the positions are kept in memory.
 */
@Injectable()
export class ReplicaReader {
  private readonly logger = new Logger(ReplicaReader.name);
  /** The last writes when there is no Redis (embedded mode), else undefined. */
  private readonly memory: ExpiringMap | undefined;

  constructor(
    private readonly replicas: ReplicaPools,
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(databaseConfig.KEY) private readonly config: ConfigType<typeof databaseConfig>,
    // Absent in embedded mode without REDIS_URL (CoreModule loads no Redis client).
    @Optional() private readonly redis?: RedisService,
  ) {
    this.memory = redis ? undefined : new ExpiringMap();
  }

  get hasReplicas(): boolean {
    return this.replicas.count > 0;
  }

  async read<Row>(sql: string, parameters: unknown[], options: ReplicaReadOptions<Row> = {}): Promise<Row[]> {
    const replica = this.replicas.pick();
    if (replica) {
      const after = options.scope ? await this.lastWrite(options.scope) : null;
      let client;
      let failure: Error | undefined;
      try {
        client = await replica.pool.connect();
        if (!after || (await caughtUp(client, after))) {
          const rows = (await client.query(sql, parameters)).rows as Row[];
          if (!options.isStale?.(rows)) return rows;
        }
      } catch (error) {
        failure = error as Error;
        this.logger.warn(`replica read failed, using the primary: ${failure.message}`);
      } finally {
        // After an error the connection is destroyed, not pooled: one whose query timed out on a
        // hung replica still waits for that answer, and every query given to it would queue behind.
        client?.release(failure);
      }
    }
    return this.dataSource.query(sql, parameters);
  }

  /**
   * Call after a committed change of `scope`: for DATABASE_READ_YOUR_WRITES_SECONDS its reads use a
   * replica only once it has replayed this far. No-op without replicas; a Redis failure is logged
   * and ignored (the per-user cache, also in Redis, is then a miss anyway).
   */
  async wrote(scope: string): Promise<void> {
    if (!this.hasReplicas) return;
    try {
      const [{ lsn }]: Array<{ lsn: string }> = await this.dataSource.query('SELECT pg_current_wal_lsn()::text AS lsn');
      if (this.memory) this.memory.set(RedisKeys.lastWrite(scope), lsn, this.config.readYourWritesSeconds);
      else await this.redis!.client.set(RedisKeys.lastWrite(scope), lsn, 'EX', this.config.readYourWritesSeconds);
    } catch (error) {
      this.logger.warn(`could not record a write for read-your-writes: ${(error as Error).message}`);
    }
  }

  private async lastWrite(scope: string): Promise<string | null> {
    if (this.memory) return this.memory.get(RedisKeys.lastWrite(scope));
    return this.redis!.client.get(RedisKeys.lastWrite(scope)).catch(() => null);
  }
}

/** Whether the replica has replayed WAL up to `lsn` (a server that is not a standby has everything). */
async function caughtUp(client: { query: (sql: string, values: unknown[]) => Promise<{ rows: Array<{ ok: boolean | null }> }> }, lsn: string): Promise<boolean> {
  const { rows } = await client.query('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [lsn]);
  return rows[0]?.ok !== false;
}
