import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import type { DataSourceOptions } from 'typeorm';
import { type DatabaseConfig, pgSsl } from '../config/database.config.js';
import { TypeOrmLogger } from './typeorm-logger.js';
import { watchedPg } from './watched-pg.js';

const DIST = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Compiled migrations: dist/database/ → dist/migrations/*.js (see tsconfig.migrations.json). */
const COMPILED_MIGRATIONS = join(DIST, 'migrations', '*.js');
/**
 * Every compiled entity, for the TypeORM CLI (migration:generate). The application does not use
 * this glob: each feature module registers its own entities (TypeOrmModule.forFeature with
 * autoLoadEntities), so database/ knows no feature.
 */
export const COMPILED_ENTITIES = join(DIST, '**', '*.entity.js');

/** Settings every PostgreSQL pool of the service shares (TypeORM's primary pool, each replica pool). */
export function pgPoolSettings(config: DatabaseConfig, applicationName: string): pg.PoolConfig {
  return {
    ssl: pgSsl(config),
    max: config.poolSize,
    application_name: applicationName,
    statement_timeout: config.statementTimeoutMs,
    // A dead server must not keep a connection attempt (and a request) waiting.
    connectionTimeoutMillis: config.connectTimeoutMs,
  };
}

/**
 * The one TypeORM options builder, shared by the application's DatabaseModule and the migrations CLI,
 * so the two cannot drift. TypeORM talks to the primary only: writes, and reads that decide
 * authentication. Read replicas are not TypeORM's business: ReplicaPools owns their pools, and
 * ReplicaReader runs the reads that may use them.
 */
export function buildDataSourceOptions(
  config: DatabaseConfig,
  overrides: { migrations?: DataSourceOptions['migrations']; entities?: DataSourceOptions['entities']; applicationName?: string } = {},
): DataSourceOptions {
  const applicationName = overrides.applicationName ?? 'auth-service';
  return {
    type: 'postgres',
    url: config.url,
    ssl: pgSsl(config),
    entities: overrides.entities ?? [COMPILED_ENTITIES],
    migrations: overrides.migrations ?? [COMPILED_MIGRATIONS],
    migrationsTableName: 'typeorm_migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    logger: new TypeOrmLogger(),
    logging: ['error', 'warn', 'migration'],
    maxQueryExecutionTime: 1000,
    applicationName,
    // pg, with a Pool that listens for the errors of its clients (watched-pg.ts).
    driver: watchedPg,
    poolSize: config.poolSize,
    connectTimeoutMS: config.connectTimeoutMs,
    extra: { statement_timeout: config.statementTimeoutMs },
  };
}
