import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'migrations');

/**
 * The migration classes of migrations/*.ts. Jest transforms them when they are imported from here;
 * TypeORM's glob loader (which the service uses on dist/migrations/*.js) cannot.
 */
export async function typescriptMigrations(): Promise<Function[]> {
  const migrations: Function[] = [];
  for (const file of readdirSync(MIGRATIONS_DIR).filter((name) => name.endsWith('.ts') && !name.endsWith('.spec.ts')).sort()) {
    const module = (await import(join(MIGRATIONS_DIR, file))) as Record<string, Function>;
    migrations.push(...Object.values(module));
  }
  return migrations;
}
