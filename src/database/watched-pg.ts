import { Logger } from '@nestjs/common';
import pg from 'pg';

const logger = new Logger('PostgreSQL');

/**
 * A pg Pool that gives each of its clients an 'error' listener the moment the client connects.
 * pg emits 'error' on a client whose connection dies (a PostgreSQL restart or failover,
 * pg_terminate_backend); an 'error' event without a listener kills the process. With a listener
 * the failed query gets its error, the pool drops the client, and the process lives. Only public
 * pg events are used (the pool's 'connect' and 'error').
 */
export class WatchedPool extends pg.Pool {
  constructor(config?: pg.PoolConfig, name = 'primary') {
    super(config);
    this.on('connect', (client) => {
      client.on('error', (error: Error) => logger.warn(`${name}: connection lost: ${error.message}`));
    });
    this.on('error', (error: Error) => logger.warn(`${name}: idle connection lost: ${error.message}`));
  }
}

/** The pg module TypeORM is given (DataSourceOptions.driver): pg itself, with WatchedPool as its Pool. */
export const watchedPg: typeof pg = Object.assign(Object.create(pg) as typeof pg, { Pool: WatchedPool });
