import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { DataSource, getMetadataArgsStorage } from 'typeorm';
import { runMigrations } from '../src/database/run-migrations.js';
import { readDatabaseConfig } from '../src/config/database.config.js';
import { buildDataSourceOptions } from '../src/database/data-source-options.js';
import { typescriptMigrations } from './support/migrations.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const ADMIN_URL = process.env.TEST_ADMIN_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Every file under `dir` whose name ends with `suffix` (Jest transforms the TypeScript on import). */
function filesUnder(dir: string, suffix: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith(suffix) && !name.endsWith('.spec.ts'))
    .sort()
    .map((name) => join(dir, name));
}

async function exportsOf(files: string[]): Promise<Function[]> {
  const found: Function[] = [];
  for (const file of files) found.push(...Object.values((await import(file)) as Record<string, unknown>).filter((value): value is Function => typeof value === 'function'));
  return found;
}

/**
 * Entities and migrations agree: on a fresh database migrated by migrations/, TypeORM's schema diff
 * for the entities of src/ (what `npm run migration:generate` would write) is empty. So the README's
 * workflow (change an entity, generate a migration) yields only the change, never a DROP of a
 * foreign key, index or check that a hand-written migration made.
 */
describe('Schema: the entities declare everything the migrations create', () => {
  const database = `auth_schema_${Date.now().toString(36)}${process.pid.toString(36)}`;
  let dataSource: DataSource;

  beforeAll(async () => {
    const admin = new pg.Client({ connectionString: ADMIN_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(database)}`);
    await admin.end();
    const url = new URL(ADMIN_URL);
    url.pathname = `/${database}`;
    // NODE_ENV test: the local server has no TLS (production would default DATABASE_SSL to require).
    const config = readDatabaseConfig({ NODE_ENV: 'test', DATABASE_URL: url.toString() });
    const migrations = await typescriptMigrations();
    expect(await runMigrations(buildDataSourceOptions(config, { migrations }), () => undefined)).not.toHaveLength(0);
    // Every entity of src/ (found by file name, as the CLI's glob finds the compiled ones).
    const candidates = await exportsOf(filesUnder(join(ROOT, 'src'), '.entity.ts'));
    const tables = new Set(getMetadataArgsStorage().tables.map((table) => table.target));
    const entities = candidates.filter((candidate) => tables.has(candidate));
    expect(entities.length).toBeGreaterThanOrEqual(5);
    dataSource = await new DataSource(buildDataSourceOptions(config, { entities, migrations: [] })).initialize();
  });

  afterAll(async () => {
    await dataSource?.destroy();
    const admin = new pg.Client({ connectionString: ADMIN_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${admin.escapeIdentifier(database)} WITH (FORCE)`);
    await admin.end();
  });

  /** What `migration:generate` would put in a new migration's up(). */
  async function pendingQueries(): Promise<string[]> {
    const sql = await dataSource.driver.createSchemaBuilder().log();
    return sql.upQueries.map((query) => query.query.replace(/\s+/g, ' ').trim());
  }

  it('migration:generate right after migration:run produces nothing', async () => {
    expect(await pendingQueries()).toEqual([]);
  });

  it('a column an entity has and the database lacks is the whole diff (the README workflow for a new column)', async () => {
    // As if User had just gained email_verified_at: the database is one column behind the entity.
    await dataSource.query('ALTER TABLE "users" DROP COLUMN "email_verified_at"');
    try {
      expect(await pendingQueries()).toEqual(['ALTER TABLE "users" ADD "email_verified_at" TIMESTAMP WITH TIME ZONE']);
    } finally {
      await dataSource.query('ALTER TABLE "users" ADD COLUMN "email_verified_at" timestamptz');
    }
    expect(await pendingQueries()).toEqual([]);
  });
});
