import { DataSource, type DataSourceOptions } from 'typeorm';

/** Any constant: serialises concurrent migration runs (two release phases, or a release and a test). */
const MIGRATION_LOCK_ID = 7_314_159;

/**
 * Runs pending migrations, each in its own transaction, and returns their names; a second run is a
 * no-op. Migrations run on the primary only and need no entities. `advisoryLock` (default on)
 * serialises concurrent runs on one server; the embedded database turns it off (one process holds
 * its folder, and PGlite is a single session).
 */
export async function runMigrations(
  options: DataSourceOptions,
  log: (line: string) => void = console.log,
  { advisoryLock = true }: { advisoryLock?: boolean } = {},
): Promise<string[]> {
  const dataSource = await new DataSource({ ...options, entities: [], poolSize: advisoryLock ? 2 : 1 } as DataSourceOptions).initialize();
  try {
    const runner = advisoryLock ? dataSource.createQueryRunner('master') : undefined;
    await runner?.connect();
    await runner?.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    try {
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      for (const migration of applied) log(`applied ${migration.name}`);
      if (applied.length === 0) log('no pending migrations');
      return applied.map((migration) => migration.name);
    } finally {
      await runner?.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]);
      await runner?.release();
    }
  } finally {
    await dataSource.destroy();
  }
}
