import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { ExpiringMap } from '../common/memory/expiring-map.js';
import { databaseConfig } from '../config/database.config.js';
import { RedisKeys } from '../redis/redis-keys.js';
import { RedisService } from '../redis/redis.service.js';
import { ReplicaPools } from './replica-pools.service.js';

/**
 * Records a write position unless the key already holds a later one, so that of two writes whose
 * SETs arrive out of order the later position stays (an older one would let a replica that has
 * replayed only that far serve the newer change's scope). Positions are pg_lsn text, `X/Y` in hex.
 */
const KEEP_LATER_LSN_LUA = `
local current = redis.call('GET', KEYS[1])
if current then
  local ch, cl = string.match(current, '^(%x+)/(%x+)$')
  local nh, nl = string.match(ARGV[1], '^(%x+)/(%x+)$')
  if ch and nh then
    ch = tonumber(ch, 16); cl = tonumber(cl, 16); nh = tonumber(nh, 16); nl = tonumber(nl, 16)
    if ch > nh or (ch == nh and cl >= nl) then
      redis.call('EXPIRE', KEYS[1], ARGV[2])
      return 0
    end
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1`;

type LsnClient = RedisService['client'] & { keepLaterLsn(key: string, lsn: string, ttlSeconds: number): Promise<number> };

/** A pg_lsn (`X/Y`, hex) as one number, for comparing positions. */
export function lsnValue(lsn: string): bigint {
  const [high, low] = lsn.split('/');
  return (BigInt(`0x${high}`) << 32n) | BigInt(`0x${low}`);
}

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
    redis?.client.defineCommand('keepLaterLsn', { numberOfKeys: 1, lua: KEEP_LATER_LSN_LUA });
  }

  get hasReplicas(): boolean {
    return this.replicas.count > 0;
  }

  async read<Row>(sql: string, parameters: unknown[], options: ReplicaReadOptions<Row> = {}): Promise<Row[]> {
    const replica = this.replicas.pick();
    if (replica) {
      let after: string | null;
      try {
        after = options.scope ? await this.lastWrite(options.scope) : null;
      } catch {
        // The write record cannot be read (Redis down): whether the replica is behind is unknown.
        return this.dataSource.query(sql, parameters);
      }
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
   * replica only once it has replayed this far (a later position already recorded is kept). No-op
   * without replicas; a Redis failure is logged and ignored.
   */
  async wrote(scope: string): Promise<void> {
    if (!this.hasReplicas) return;
    try {
      const [{ lsn }]: Array<{ lsn: string }> = await this.dataSource.query('SELECT pg_current_wal_lsn()::text AS lsn');
      const key = RedisKeys.lastWrite(scope);
      if (this.memory) {
        const current = this.memory.get(key);
        if (current === null || lsnValue(current) < lsnValue(lsn)) this.memory.set(key, lsn, this.config.readYourWritesSeconds);
      } else {
        await (this.redis!.client as LsnClient).keepLaterLsn(key, lsn, this.config.readYourWritesSeconds);
      }
    } catch (error) {
      this.logger.warn(`could not record a write for read-your-writes: ${(error as Error).message}`);
    }
  }

  private async lastWrite(scope: string): Promise<string | null> {
    if (this.memory) return this.memory.get(RedisKeys.lastWrite(scope));
    return this.redis!.client.get(RedisKeys.lastWrite(scope));
  }
}

/** Whether the replica has replayed WAL up to `lsn` (a server that is not a standby has everything). */
async function caughtUp(client: { query: (sql: string, values: unknown[]) => Promise<{ rows: Array<{ ok: boolean | null }> }> }, lsn: string): Promise<boolean> {
  const { rows } = await client.query('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [lsn]);
  return rows[0]?.ok !== false;
}
