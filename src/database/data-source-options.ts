import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Logger } from '@nestjs/common';
import pg from 'pg';
import type { DataSourceOptions } from 'typeorm';
import { type DatabaseConfig, pgSsl } from '../config/database.config.js';
import { OutboxMessage } from '../jobs/outbox-message.entity.js';
import { BlacklistedToken } from '../session/blacklisted-token.entity.js';
import { Session } from '../session/session.entity.js';
import { LoginIdentifier } from '../users/login-identifier.entity.js';
import { User } from '../users/user.entity.js';
import { TypeOrmLogger } from './typeorm-logger.js';

/** Every entity of the service. A new entity is added here and gets a migration in migrations/. */
export const ENTITIES = [User, LoginIdentifier, Session, BlacklistedToken, OutboxMessage];

/** Compiled migrations: dist/database/ → dist/migrations/*.js (see tsconfig.migrations.json). */
const COMPILED_MIGRATIONS = join(dirname(fileURLToPath(import.meta.url)), '..', 'migrations', '*.js');

function connection(config: DatabaseConfig, url: string) {
  return { url, ssl: pgSsl(config) };
}

type ConnectCallback = (error: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void;

/**
 * `pg` with two changes for replica pools (the primary's pool is unchanged):
 *
 * - A replica survives TypeORM's connect-time probe. While a data source initialises, TypeORM opens
 *   and releases one connection per pool and fails the whole initialisation when any of them fails,
 *   so a replica that was down when a web process started kept that process from starting at all
 *   (DESIGN: a replica that is down must not break login or registration). The probe's failure is
 *   logged instead and the pool connects on first use: ReplicaReader falls back to the primary and
 *   readiness says `degraded` until the replica answers.
 * - A replica's queries are bounded on the client too (`query_timeout`): a hung replica (frozen
 *   host, a partition that drops packets) never answers, so its server-side statement_timeout never
 *   fires and a read on an open connection waited forever instead of falling back.
 */
function replicaTolerantPg(primaryUrl: string, replicaUrls: string[], readTimeoutMs: number): typeof pg {
  const replicas = new Set(replicaUrls.filter((url) => url !== primaryUrl));
  const logger = new Logger('DatabaseModule');
  class ReplicaTolerantPool extends pg.Pool {
    constructor(config?: pg.PoolConfig) {
      const connectionString = config?.connectionString;
      const isReplica = connectionString !== undefined && replicas.has(connectionString);
      super(isReplica ? { ...config, query_timeout: config?.query_timeout ?? readTimeoutMs } : config);
      if (!isReplica) return;
      const index = replicaUrls.indexOf(connectionString);
      // TypeORM's probe is the first connect() after construction; later calls use Pool's own.
      const probe = (callback?: ConnectCallback) => {
        delete (this as { connect?: unknown }).connect;
        if (typeof callback !== 'function') return this.connect();
        this.connect((error, client, done) => {
          if (!error) return callback(error, client, done);
          logger.warn(`replica ${index} is unreachable at startup (${error.message}); reads use the primary until it answers`);
          // TypeORM only releases the probe's connection: hand it one that is no connection.
          const none = { on: () => none, release: () => undefined } as unknown as pg.PoolClient;
          callback(undefined, none, () => undefined);
        });
        return undefined;
      };
      Object.defineProperty(this, 'connect', { value: probe, configurable: true, writable: true });
    }
  }
  return Object.assign(Object.create(pg) as typeof pg, { Pool: ReplicaTolerantPool });
}

/**
 * The one TypeORM options builder, shared by the application's DatabaseModule and the migrations CLI,
 * so the two cannot drift. Writes and reads that decide authentication use the primary; code opts
 * in to a replica explicitly with `createQueryRunner('slave')` (see ReplicaReader).
 */
export function buildDataSourceOptions(
  config: DatabaseConfig,
  overrides: { migrations?: DataSourceOptions['migrations']; applicationName?: string } = {},
): DataSourceOptions {
  const primary = connection(config, config.url);
  return {
    type: 'postgres',
    ...(config.replicaUrls.length > 0
      ? {
          replication: {
            master: primary,
            slaves: config.replicaUrls.map((url) => connection(config, url)),
            defaultMode: 'master' as const,
          },
        }
      : primary),
    entities: ENTITIES,
    migrations: overrides.migrations ?? [COMPILED_MIGRATIONS],
    migrationsTableName: 'typeorm_migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    logger: new TypeOrmLogger(),
    logging: ['error', 'warn', 'migration'],
    maxQueryExecutionTime: 1000,
    applicationName: overrides.applicationName ?? 'auth-service',
    // Only with replicas: see replicaTolerantPg (a replica down at startup, or hung, must not stop the service).
    ...(config.replicaUrls.length > 0 ? { driver: replicaTolerantPg(config.url, config.replicaUrls, config.statementTimeoutMs) } : {}),
    poolSize: config.poolSize,
    connectTimeoutMS: config.connectTimeoutMs,
    extra: {
      statement_timeout: config.statementTimeoutMs,
      // A dead replica must not keep a connection attempt (and a request) waiting.
      connectionTimeoutMillis: config.connectTimeoutMs,
    },
  };
}
