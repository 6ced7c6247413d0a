import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { DataSourceOptions } from 'typeorm';
import type { Env } from '../config/env.js';
import { readDatabaseConfig } from '../config/database.config.js';
import { readJobsConfig } from '../config/jobs.config.js';
import { buildDataSourceOptions } from '../database/data-source-options.js';
import { runMigrations } from '../database/run-migrations.js';
import { EmbeddedPostgres } from './embedded-postgres.js';
import { displayPath, type EmbeddedMode, isEmbedded, readEmbeddedMode } from './embedded-mode.js';

/**
 * What embedded mode started in this process (see readEmbeddedMode), and the one line that says so.
 * Built by the entry point before the Nest application, so that the application sees a PostgreSQL
 * URL like any other; closed last, when the application has shut down (EmbeddedModule).
 */
export class EmbeddedRuntime {
  private constructor(
    readonly mode: EmbeddedMode,
    private readonly postgres: EmbeddedPostgres | undefined,
    private readonly outboxPollMs: number,
    /** How long starting PostgreSQL and migrating took, ms (0 when it is not embedded). */
    readonly startupMs: number,
  ) {}

  /**
   * Undefined when DATABASE_URL and REDIS_URL are both set (nothing embedded). With DATABASE_URL
   * unset: starts PGlite on DATA_DIR, points this process's DATABASE_URL at it (one connection, no
   * replicas) and applies pending migrations — there is no release phase on a laptop. Throws in
   * production, naming the missing variable.
   */
  static async start(
    env: Env = process.env,
    log: (line: string) => void = () => undefined,
    /** The migrations to apply (default: the compiled ones in dist/migrations; the tests pass the TypeScript ones). */
    migrations?: DataSourceOptions['migrations'],
  ): Promise<EmbeddedRuntime | undefined> {
    const mode = readEmbeddedMode(env);
    if (!isEmbedded(mode)) return undefined;
    const outboxPollMs = readJobsConfig(env).outboxRelayIntervalMs;
    if (!mode.database) return new EmbeddedRuntime(mode, undefined, outboxPollMs, 0);
    const started = performance.now();
    const postgres = await EmbeddedPostgres.start(mode.dataDir);
    try {
      // The embedded server is reached like any PostgreSQL server: from here on, this process's
      // DATABASE_URL names it, with a pool of one connection (PGlite is one session) and no replicas.
      env.DATABASE_URL = postgres.url;
      env.DATABASE_POOL_SIZE = '1';
      for (const name of ['DATABASE_REPLICA_URL', 'DATABASE_REPLICA_URLS', 'DATABASE_SSL']) delete env[name];
      // The release phase's migrations, without the advisory lock: EmbeddedPostgres's folder lock
      // already keeps every other process out.
      const options = buildDataSourceOptions(readDatabaseConfig(env), { applicationName: 'auth-migrations', migrations });
      await runMigrations(options, log, { advisoryLock: false });
    } catch (error) {
      await postgres.close().catch(() => undefined);
      throw error;
    }
    return new EmbeddedRuntime(mode, postgres, outboxPollMs, Math.round(performance.now() - started));
  }

  /** E.g. "PostgreSQL: embedded (PGlite, .data/pg; …) · Redis roles: in-process (…) — single instance only". */
  describe(): string {
    const postgres = this.mode.database
      ? `PostgreSQL: embedded (PGlite, ${displayPath(join(this.mode.dataDir, 'pg'))}; one session: outbox polled every ${this.outboxPollMs} ms instead of LISTEN, migrations at boot under a folder lock instead of an advisory lock)`
      : 'PostgreSQL: DATABASE_URL';
    const redis = this.mode.redis
      ? 'Redis roles: in-process (revocation fast path, cache and rate limits in memory; jobs run here from the outbox, no BullMQ)'
      : 'Redis: REDIS_URL (jobs run here from the outbox, no BullMQ)';
    return `${postgres} · ${redis} — single instance only`;
  }

  /** Stops the embedded PostgreSQL, if any (its data stays in DATA_DIR). */
  async close(): Promise<void> {
    await this.postgres?.close();
  }
}
