import { execFile, execFileSync } from 'node:child_process';
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './redis-process.js';

/** The local PostgreSQL 15 binaries (Debian/Ubuntu layout). */
const PG_BIN = process.env.TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin';
/** initdb and postgres refuse to run as root: every server process runs as this OS user. */
const PG_OS_USER = 'postgres';
/** Every wait of this helper gives up after this long. */
const WAIT_MS = 30_000;

export type PgServer = 'primary' | 'replica';

export interface PgClusterOptions {
  /** recovery_min_apply_delay of the replica: every commit becomes visible there this much later (real lag). */
  applyDelayMs?: number;
  /** Load pg_stat_statements on both servers (created in `auth`), so each server counts the statements it ran. */
  statStatements?: boolean;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Every cluster started by this process and not closed yet. If Jest exits without reaching a
 * suite's afterAll, the servers are stopped and the temporary directory removed synchronously.
 */
const openClusters = new Set<PgCluster>();
process.once('exit', () => {
  for (const cluster of openClusters) cluster.killSync();
});

/**
 * A private PostgreSQL 15 primary and one streaming hot-standby replica, started from the local
 * binaries in a fresh temporary directory on free loopback ports. The machine's own PostgreSQL
 * (port 5432) is never touched. Both servers use trust authentication for `postgres` on 127.0.0.1
 * and have a database `auth` (created on the primary, replicated).
 *
 * Faults are real: `stopReplica()` is `pg_ctl stop -m immediate` (the server dies without
 * goodbye), `pauseReplay()` stops WAL replay on the replica so it lags behind the primary.
 */
export class PgCluster {
  private closed = false;
  /** Processes of the replica stopped by freezeReplica(), to continue in thawReplica(). */
  private frozen: number[] = [];

  private constructor(
    readonly dir: string,
    readonly primaryPort: number,
    readonly replicaPort: number,
  ) {}

  /** initdb → primary → pg_basebackup → replica (streaming) → CREATE DATABASE auth, replicated. */
  static async start(options: PgClusterOptions = {}): Promise<PgCluster> {
    const dir = await mkdtemp(join(tmpdir(), 'pg-cluster-'));
    const [primaryPort, replicaPort] = await distinctFreePorts(2);
    const cluster = new PgCluster(dir, primaryPort, replicaPort);
    openClusters.add(cluster);
    try {
      await run('chown', ['-R', `${PG_OS_USER}:${PG_OS_USER}`, dir]);
      await cluster.asPostgres('initdb', ['-D', cluster.dataDir('primary'), '--auth=trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C']);
      // Appended lines win over initdb's defaults (the last setting in the file counts).
      await appendFile(
        join(cluster.dataDir('primary'), 'postgresql.conf'),
        [
          '',
          '# pg-cluster.ts (test helper)',
          "listen_addresses = '127.0.0.1'",
          `port = ${primaryPort}`,
          `unix_socket_directories = '${dir}'`,
          'wal_level = replica',
          'max_wal_senders = 5',
          "wal_keep_size = '128MB'",
          'hot_standby = on',
          'max_connections = 60',
          "shared_buffers = '32MB'",
          // Test data is thrown away: skip the disk flushes (a killed server still finds its WAL in the page cache).
          'fsync = off',
          "log_line_prefix = '%m [%p] %a '",
          ...(options.statStatements ? ["shared_preload_libraries = 'pg_stat_statements'", 'pg_stat_statements.track = all'] : []),
          '',
        ].join('\n'),
      );
      await appendFile(join(cluster.dataDir('primary'), 'pg_hba.conf'), `\nhost replication ${PG_OS_USER} 127.0.0.1/32 trust\n`);
      await cluster.pgCtl('primary', ['start']);

      await cluster.asPostgres('pg_basebackup', [
        '-h', '127.0.0.1', '-p', String(primaryPort), '-U', 'postgres',
        '-D', cluster.dataDir('replica'), '-R', '-X', 'stream', '--checkpoint=fast', '--no-sync',
      ]);
      // The base backup copied the primary's postgresql.conf; only the port differs (hot_standby is on).
      const delay = options.applyDelayMs ? `recovery_min_apply_delay = '${options.applyDelayMs}ms'\n` : '';
      await appendFile(join(cluster.dataDir('replica'), 'postgresql.conf'), `\n# replica\nport = ${replicaPort}\n${delay}`);
      await cluster.startReplica();

      await cluster.query('primary', 'CREATE DATABASE auth', [], 'postgres');
      if (options.statStatements) await cluster.query('primary', 'CREATE EXTENSION pg_stat_statements', [], 'auth');
      await cluster.waitForReplicaCatchUp();
      await cluster.query('replica', 'SELECT 1', [], 'auth');
      return cluster;
    } catch (error) {
      const logs = await cluster.logTails();
      await cluster.close();
      throw new Error(`PostgreSQL primary + replica did not start: ${(error as Error).message}\n${logs}`, { cause: error });
    }
  }

  get primaryUrl(): string {
    return `postgres://postgres@127.0.0.1:${this.primaryPort}/auth`;
  }

  get replicaUrl(): string {
    return `postgres://postgres@127.0.0.1:${this.replicaPort}/auth`;
  }

  dataDir(server: PgServer): string {
    return join(this.dir, server);
  }

  logFile(server: PgServer): string {
    return join(this.dir, `${server}.log`);
  }

  /** Kills the replica (`pg_ctl stop -m immediate`: no checkpoint, clients are cut off). */
  async stopReplica(): Promise<void> {
    this.thawReplica();
    await this.pgCtl('replica', ['stop', '-m', 'immediate']);
  }

  /** Starts the replica (crash recovery, then streaming again) and waits until it streams from the primary. */
  async startReplica(): Promise<void> {
    await this.pgCtl('replica', ['start']);
    await this.waitUntil('the replica streams from the primary', async () => {
      const rows = await this.query<{ status: string }>('replica', 'SELECT status FROM pg_stat_wal_receiver', [], 'postgres');
      return rows[0]?.status === 'streaming';
    });
  }

  /**
   * Freezes the replica (SIGSTOP to its postmaster and every child): connections stay open and the
   * kernel still accepts new ones, but nothing answers, as with a hung host or a network partition
   * that drops packets. The server-side statement_timeout cannot fire either.
   */
  async freezeReplica(): Promise<void> {
    if (this.frozen.length > 0) return;
    const postmaster = Number((await readFile(join(this.dataDir('replica'), 'postmaster.pid'), 'utf8')).split('\n')[0]);
    const children = (await run('ps', ['-o', 'pid=', '--ppid', String(postmaster)]).catch(() => ''))
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
    // The postmaster first, so that it forks nothing new meanwhile.
    for (const pid of [postmaster, ...children]) {
      process.kill(pid, 'SIGSTOP');
      this.frozen.push(pid);
    }
  }

  /** Continues every process freezeReplica() stopped. */
  thawReplica(): void {
    for (const pid of this.frozen.splice(0)) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // gone
      }
    }
  }

  /**
   * Pauses WAL replay on the replica: it keeps receiving WAL but applies none of it, so every write
   * made on the primary from now on is missing on the replica (replication lag, made for real).
   */
  async pauseReplay(): Promise<void> {
    await this.query('replica', 'SELECT pg_wal_replay_pause()', [], 'postgres');
    // From the request on, no further WAL record is applied; wait (briefly) for the startup process
    // to acknowledge it, but a pending request already holds the replay back.
    const deadline = Date.now() + 2000;
    while (Date.now() < deadline) {
      const [{ state }] = await this.query<{ state: string }>('replica', 'SELECT pg_get_wal_replay_pause_state() AS state', [], 'postgres');
      if (state === 'paused') return;
      if (state === 'not paused') throw new Error('WAL replay did not pause');
      await sleep(50);
    }
  }

  /** Resumes WAL replay and waits until the replica has caught up with the primary. */
  async resumeReplay(): Promise<void> {
    await this.query('replica', 'SELECT pg_wal_replay_resume()', [], 'postgres');
    await this.waitForReplicaCatchUp();
  }

  /** Waits until the replica has replayed everything the primary had written when this was called. */
  async waitForReplicaCatchUp(): Promise<void> {
    const [{ lsn }] = await this.query<{ lsn: string }>('primary', 'SELECT pg_current_wal_lsn()::text AS lsn', [], 'postgres');
    await this.waitUntil(`the replica replays up to ${lsn}`, async () => {
      const [row] = await this.query<{ caught_up: boolean | null }>(
        'replica',
        'SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), $1::pg_lsn) >= 0 AS caught_up',
        [lsn],
        'postgres',
      );
      return row.caught_up === true;
    });
  }

  /** One query on a fresh connection (no pool: nothing stays open across a fault). */
  async query<T = Record<string, unknown>>(server: PgServer, sql: string, params: unknown[] = [], database = 'auth'): Promise<T[]> {
    const client = new pg.Client({
      host: '127.0.0.1',
      port: server === 'primary' ? this.primaryPort : this.replicaPort,
      user: 'postgres',
      database,
      application_name: 'pg-cluster-test-helper',
      connectionTimeoutMillis: 2000,
      query_timeout: 10_000,
    });
    client.on('error', () => undefined); // a server killed under an idle client must not crash the test process
    try {
      await client.connect();
      return (await client.query(sql, params)).rows as T[];
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** Stops both servers (immediate) and deletes the temporary directory; safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.thawReplica(); // a stopped process would not act on pg_ctl's signal
    await Promise.allSettled((['replica', 'primary'] as const).map((server) => this.pgCtl(server, ['stop', '-m', 'immediate'])));
    await rm(this.dir, { recursive: true, force: true });
    openClusters.delete(this);
  }

  /** The last lines of both server logs (for a failing setup). */
  async logTails(lines = 20): Promise<string> {
    const tails = await Promise.all(
      (['primary', 'replica'] as const).map(async (server) => {
        const log = await readFile(this.logFile(server), 'utf8').catch(() => '(no log)');
        return `--- ${server} log ---\n${log.trimEnd().split('\n').slice(-lines).join('\n')}`;
      }),
    );
    return tails.join('\n');
  }

  /** Process-exit fallback: synchronous, best effort. */
  killSync(): void {
    if (this.closed) return;
    this.closed = true;
    this.thawReplica();
    for (const server of ['replica', 'primary'] as const) {
      try {
        execFileSync('runuser', ['-u', PG_OS_USER, '--', join(PG_BIN, 'pg_ctl'), 'stop', '-D', this.dataDir(server), '-m', 'immediate', '-w', '-t', '10'], {
          cwd: this.dir,
          stdio: 'ignore',
          timeout: 15_000,
        });
      } catch {
        // not running
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** pg_ctl start|stop for one server, waiting (bounded) until it is up or down. */
  private async pgCtl(server: PgServer, args: string[]): Promise<void> {
    const [action, ...rest] = args;
    const common = ['-D', this.dataDir(server), '-w', '-t', String(WAIT_MS / 1000)];
    if (action === 'start') await this.asPostgres('pg_ctl', [action, ...common, '-l', this.logFile(server), ...rest]);
    else await this.asPostgres('pg_ctl', [action, ...common, ...rest]);
  }

  private asPostgres(binary: string, args: string[]): Promise<string> {
    return run('runuser', ['-u', PG_OS_USER, '--', join(PG_BIN, binary), ...args], this.dir);
  }

  private async waitUntil(what: string, condition: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    let last = '';
    while (Date.now() < deadline) {
      try {
        if (await condition()) return;
      } catch (error) {
        last = ` (last error: ${(error as Error).message})`;
      }
      await sleep(100);
    }
    throw new Error(`timed out after ${WAIT_MS} ms waiting until ${what}${last}`);
  }
}

async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

function run(file: string, args: string[], cwd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    // pg_ctl -l sends the server's output to its log file, so no pipe stays open after pg_ctl exits.
    execFile(file, args, { cwd, timeout: WAIT_MS + 5000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(' ')} failed: ${error.message}\n${stdout}\n${stderr}`.trimEnd()));
      else resolve(stdout);
    });
  });
}
