import 'reflect-metadata';
import pg from 'pg';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { type DatabaseConfig, databaseConfig, pgSsl } from '../config/database.config.js';
import { buildDataSourceOptions } from '../database/data-source-options.js';
import { isUnset } from '../embedded/embedded-mode.js';

/** Any constant: serialises concurrent migration runs (two release phases, or a release and a test). */
const MIGRATION_LOCK_ID = 7_314_159;

/**
 * Creates the database named in DATABASE_URL when it does not exist yet (a fresh clone on a
 * developer machine). On managed Postgres (Heroku) the database always exists, so this is a no-op.
 */
export async function ensureDatabaseExists(config: DatabaseConfig): Promise<void> {
  const target = new URL(config.url);
  const name = decodeURIComponent(target.pathname.slice(1));
  const probe = new pg.Client({ connectionString: config.url, ssl: pgSsl(config) });
  try {
    await probe.connect();
    return;
  } catch (error) {
    if ((error as { code?: string }).code !== '3D000') throw error; // 3D000: invalid_catalog_name
  } finally {
    await probe.end().catch(() => undefined);
  }
  const admin = new URL(config.url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString(), ssl: pgSsl(config) });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
    console.log(`created database ${name}`);
  } catch (error) {
    if ((error as { code?: string }).code !== '42P04') throw error; // created concurrently
  } finally {
    await client.end();
  }
}

/** Runs pending migrations on the primary under an advisory lock; a second run is a no-op. */
export async function runMigrations(options: DataSourceOptions, log: (line: string) => void = console.log): Promise<string[]> {
  // Migrations run on the primary only, whatever replicas are configured.
  // (The options name the primary only: replicas are not TypeORM's.) Migrations need no entities.
  const dataSource = await new DataSource({ ...options, entities: [], poolSize: 2 } as DataSourceOptions).initialize();
  try {
    const runner = dataSource.createQueryRunner('master');
    await runner.connect();
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    try {
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      for (const migration of applied) log(`applied ${migration.name}`);
      if (applied.length === 0) log('no pending migrations');
      return applied.map((migration) => migration.name);
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]);
      await runner.release();
    }
  } finally {
    await dataSource.destroy();
  }
}

const isEntryPoint = import.meta.url === `file://${process.argv[1]}`;
let embedded = false;
try {
  embedded = isEntryPoint && isUnset(process.env, 'DATABASE_URL');
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
if (embedded) {
  // DATABASE_URL unset (development/test; production refuses, naming it): the database is embedded
  // and migrated when the service starts, since only that process may open its folder.
  console.log('DATABASE_URL is unset: embedded PostgreSQL, migrated when the service starts');
} else if (isEntryPoint) {
  const config = databaseConfig();
  ensureDatabaseExists(config)
    .then(() => runMigrations(buildDataSourceOptions(config, { applicationName: 'auth-migrations' })))
    .then(() => process.exit(0))
    .catch((error: Error) => {
      console.error(`migration failed: ${error.message}`);
      process.exit(1);
    });
}
