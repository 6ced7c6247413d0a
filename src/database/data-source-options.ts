import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DataSourceOptions } from 'typeorm';
import type { DatabaseConfig } from '../config/database.config.js';
import { OutboxMessage } from '../jobs/outbox-message.entity.js';
import { BlacklistedToken } from '../session/blacklisted-token.entity.js';
import { Session } from '../session/session.entity.js';
import { User } from '../users/user.entity.js';
import { TypeOrmLogger } from './typeorm-logger.js';

/** Every entity of the service. A new entity is added here and gets a migration in migrations/. */
export const ENTITIES = [User, Session, BlacklistedToken, OutboxMessage];

/** Compiled migrations: dist/database/ → dist/migrations/*.js (see tsconfig.migrations.json). */
const COMPILED_MIGRATIONS = join(dirname(fileURLToPath(import.meta.url)), '..', 'migrations', '*.js');

function connection(config: DatabaseConfig, url: string) {
  const ssl =
    config.ssl === 'off' ? false : { rejectUnauthorized: config.ssl === 'verify-full' };
  return { url, ssl };
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
    poolSize: config.poolSize,
    connectTimeoutMS: config.connectTimeoutMs,
    extra: {
      statement_timeout: config.statementTimeoutMs,
      // A dead replica must not keep a connection attempt (and a request) waiting.
      connectionTimeoutMillis: config.connectTimeoutMs,
    },
  };
}
