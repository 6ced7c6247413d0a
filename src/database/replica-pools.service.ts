import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type pg from 'pg';
import { databaseConfig } from '../config/database.config.js';
import { pgPoolSettings } from './data-source-options.js';
import { WatchedPool } from './watched-pg.js';

/**
 * The read replicas' connection pools (DATABASE_REPLICA_URL(S)), owned here and nowhere else: the
 * reads that may use a replica (ReplicaReader), readiness and the error listeners (WatchedPool) all
 * go through this provider. TypeORM knows only the primary.
 *
 * Lazy: a pool is made on first use and connects only when a read needs it, so a replica that is
 * down when the process starts stops nothing; reads fall back to the primary until it answers.
 * A replica's queries are bounded on the client too (`query_timeout`): a hung replica (frozen host,
 * a partition that drops packets) never answers, so its own statement_timeout never fires.
 */
@Injectable()
export class ReplicaPools implements OnApplicationShutdown {
  private readonly pools = new Map<number, pg.Pool>();
  private next = 0;

  constructor(@Inject(databaseConfig.KEY) private readonly config: ConfigType<typeof databaseConfig>) {}

  get count(): number {
    return this.config.replicaUrls.length;
  }

  /** The pool of replica `index`, made on first use. */
  pool(index: number): pg.Pool {
    let pool = this.pools.get(index);
    if (!pool) {
      pool = new WatchedPool(
        {
          connectionString: this.config.replicaUrls[index],
          ...pgPoolSettings(this.config, 'auth-service'),
          query_timeout: this.config.statementTimeoutMs,
        },
        `replica ${index}`,
      );
      this.pools.set(index, pool);
    }
    return pool;
  }

  /** The replica for the next read (round robin), or undefined without replicas. */
  pick(): { index: number; pool: pg.Pool } | undefined {
    if (this.count === 0) return undefined;
    const index = this.next++ % this.count;
    return { index, pool: this.pool(index) };
  }

  /** Readiness probe of replica `index` (the caller bounds it in time). */
  async ping(index: number): Promise<void> {
    await this.pool(index).query('SELECT 1');
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([...this.pools.values()].map((pool) => pool.end().catch(() => undefined)));
    this.pools.clear();
  }
}
