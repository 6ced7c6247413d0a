import { beforeAll } from '@jest/globals';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runMigrations } from '../../src/database/run-migrations.js';
import { readDatabaseConfig } from '../../src/config/database.config.js';
import { buildDataSourceOptions } from '../../src/database/data-source-options.js';

const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'migrations');

/**
 * Applies the migrations in migrations/ to the run's database before each suite. The first suite
 * does the work; for the others it is a no-op (the same path as a repeated release phase).
 * Jest transforms the TypeScript migrations when they are imported from here; TypeORM's glob loader cannot.
 */
beforeAll(async () => {
  const migrations: Function[] = [];
  for (const file of readdirSync(MIGRATIONS_DIR).filter((name) => name.endsWith('.ts') && !name.endsWith('.spec.ts')).sort()) {
    const module = (await import(join(MIGRATIONS_DIR, file))) as Record<string, Function>;
    migrations.push(...Object.values(module));
  }
  await runMigrations(buildDataSourceOptions(readDatabaseConfig(process.env), { migrations }), () => undefined);
});
