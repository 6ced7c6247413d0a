import 'reflect-metadata';
import pg from 'pg';
import { type DatabaseConfig, databaseConfig, pgSsl } from '../config/database.config.js';
import { buildDataSourceOptions } from '../database/data-source-options.js';
import { runMigrations } from '../database/run-migrations.js';
import { isUnset } from '../embedded/embedded-mode.js';

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
