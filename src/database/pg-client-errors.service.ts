import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Pool, PoolClient } from 'pg';
import type { DataSource } from 'typeorm';

/**
 * pg emits 'error' on a checked-out client whose connection dies between queries (a PostgreSQL
 * restart or failover, pg_terminate_backend). TypeORM only listens on the pools, and an 'error'
 * event without a listener kills the process. This gives every client of every pool a listener:
 * the failed query gets its error, the pool drops the client, the process lives.
 */
@Injectable()
export class PgClientErrors implements OnApplicationBootstrap {
  private readonly logger = new Logger('PostgreSQL');
  private readonly watched = new WeakSet<PoolClient>();

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  onApplicationBootstrap(): void {
    const driver = this.dataSource.driver as unknown as { master?: Pool; slaves?: Pool[] };
    for (const pool of [driver.master, ...(driver.slaves ?? [])]) {
      if (!pool) continue;
      const listen = (client: PoolClient) => {
        if (this.watched.has(client)) return;
        this.watched.add(client);
        client.on('error', (error: Error) => this.logger.warn(`connection lost: ${error.message}`));
      };
      pool.on('connect', listen);
      // Clients opened before this hook (TypeORM connects once at start-up).
      for (const client of (pool as unknown as { _clients?: PoolClient[] })._clients ?? []) listen(client);
    }
  }
}
