import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './redis-process.js';

/** The local PostgreSQL 15 binaries (Debian/Ubuntu layout). */
const PG_BIN = process.env.TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin';
/** initdb and postgres refuse to run as root. */
const PG_OS_USER = 'postgres';
const WAIT_MS = 30_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function run(file: string, args: string[], cwd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd, timeout: WAIT_MS + 5000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(' ')} failed: ${error.message}\n${stdout}\n${stderr}`.trimEnd()));
      else resolve(stdout);
    });
  });
}

/**
 * A self-signed certificate for `CN=<name>`, made with openssl as managed services make theirs:
 * no CA anyone trusts, and a name that is not the address clients dial (127.0.0.1).
 */
async function selfSignedCertificate(dir: string, name: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '2', '-subj', `/CN=${name}.internal`, '-keyout', key, '-out', cert]);
  await chmod(key, 0o600);
  return { cert, key };
}

/** Everything started by this process and not closed yet, stopped if Jest exits without afterAll. */
const open = new Set<{ killSync(): void }>();
process.once('exit', () => {
  for (const server of open) server.killSync();
});

/**
 * A private PostgreSQL 15 shaped like Heroku Postgres: TLS on with a self-signed certificate,
 * password authentication, and a pg_hba.conf that rejects every connection without TLS. A role and
 * a database of its own; `url` looks like Heroku's DATABASE_URL (`postgres://user:pass@host:port/db`,
 * no sslmode).
 */
export class PgTlsServer {
  static readonly USER = 'u7heroku';
  static readonly PASSWORD = 'p4ss-from-the-add-on';
  static readonly DATABASE = 'd1heroku';
  private closed = false;

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  static async start(): Promise<PgTlsServer> {
    const dir = await mkdtemp(join(tmpdir(), 'pg-tls-'));
    const server = new PgTlsServer(dir, await freePort());
    open.add(server);
    try {
      const { cert, key } = await selfSignedCertificate(dir, 'postgres');
      await run('chown', ['-R', `${PG_OS_USER}:${PG_OS_USER}`, dir]);
      await server.asPostgres('initdb', ['-D', server.dataDir, '--auth=trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C']);
      await appendFile(
        join(server.dataDir, 'postgresql.conf'),
        [
          '',
          '# tls-servers.ts (test helper)',
          "listen_addresses = '127.0.0.1'",
          `port = ${server.port}`,
          `unix_socket_directories = '${dir}'`,
          'ssl = on',
          `ssl_cert_file = '${cert}'`,
          `ssl_key_file = '${key}'`,
          "password_encryption = 'scram-sha-256'",
          'max_connections = 40',
          "shared_buffers = '32MB'",
          'fsync = off',
          '',
        ].join('\n'),
      );
      // Replaces initdb's file: the Unix socket (this helper's setup) is trusted; over TCP only TLS
      // with the password gets in, a plain-text connection is rejected outright.
      await writeFile(
        join(server.dataDir, 'pg_hba.conf'),
        [
          'local     all all                 trust',
          'hostssl   all all 127.0.0.1/32    scram-sha-256',
          'hostnossl all all 127.0.0.1/32    reject',
          '',
        ].join('\n'),
      );
      await server.asPostgres('pg_ctl', ['start', '-D', server.dataDir, '-w', '-t', String(WAIT_MS / 1000), '-l', server.logFile]);
      await server.admin(`CREATE ROLE ${PgTlsServer.USER} LOGIN PASSWORD '${PgTlsServer.PASSWORD}'`);
      await server.admin(`CREATE DATABASE ${PgTlsServer.DATABASE} OWNER ${PgTlsServer.USER}`);
      return server;
    } catch (error) {
      const log = await readFile(server.logFile, 'utf8').catch(() => '(no log)');
      await server.close();
      throw new Error(`PostgreSQL with TLS did not start: ${(error as Error).message}\n${log}`, { cause: error });
    }
  }

  /** Heroku's shape: `postgres://user:pass@host:port/db`, no sslmode. */
  get url(): string {
    return `postgres://${PgTlsServer.USER}:${PgTlsServer.PASSWORD}@127.0.0.1:${this.port}/${PgTlsServer.DATABASE}`;
  }

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  get logFile(): string {
    return join(this.dir, 'postgres.log');
  }

  /** A query as the superuser over the Unix socket (the test's view of the server, not the app's). */
  async admin<T = Record<string, unknown>>(sql: string, database = 'postgres'): Promise<T[]> {
    const client = new pg.Client({ host: this.dir, port: this.port, user: 'postgres', database, connectionTimeoutMillis: 5000 });
    try {
      await client.connect();
      return (await client.query(sql)).rows as T[];
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.asPostgres('pg_ctl', ['stop', '-D', this.dataDir, '-m', 'immediate', '-w', '-t', '10']).catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
    open.delete(this);
  }

  killSync(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      execFileSync('runuser', ['-u', PG_OS_USER, '--', join(PG_BIN, 'pg_ctl'), 'stop', '-D', this.dataDir, '-m', 'immediate', '-w', '-t', '10'], {
        cwd: this.dir,
        stdio: 'ignore',
        timeout: 15_000,
      });
    } catch {
      // not running
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private asPostgres(binary: string, args: string[]): Promise<string> {
    return run('runuser', ['-u', PG_OS_USER, '--', join(PG_BIN, binary), ...args], this.dir);
  }
}

/**
 * A private redis-server shaped like Heroku Redis: TLS only (no plain-text port), a self-signed
 * certificate, a password; `url` is `rediss://:password@127.0.0.1:port`.
 */
export class RedisTlsServer {
  static readonly PASSWORD = 'redis-add-on-password';
  private child: ChildProcess | undefined;

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  static async start(): Promise<RedisTlsServer> {
    const dir = await mkdtemp(join(tmpdir(), 'redis-tls-'));
    const server = new RedisTlsServer(dir, await freePort());
    open.add(server);
    try {
      const { cert, key } = await selfSignedCertificate(dir, 'redis');
      let output = '';
      server.child = spawn(
        'redis-server',
        [
          '--port', '0', '--tls-port', String(server.port), '--bind', '127.0.0.1',
          '--tls-cert-file', cert, '--tls-key-file', key, '--tls-auth-clients', 'no',
          '--requirepass', RedisTlsServer.PASSWORD, '--save', '', '--appendonly', 'no', '--dir', dir,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      server.child.stdout!.on('data', (chunk) => (output += chunk));
      server.child.stderr!.on('data', (chunk) => (output += chunk));
      const deadline = Date.now() + 10_000;
      while (!output.includes('Ready to accept connections')) {
        if (server.child.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server with TLS did not start:\n${output}`);
        await sleep(50);
      }
      return server;
    } catch (error) {
      await server.close();
      throw error;
    }
  }

  get url(): string {
    return `rediss://:${RedisTlsServer.PASSWORD}@127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    this.child = undefined;
    await rm(this.dir, { recursive: true, force: true });
    open.delete(this);
  }

  killSync(): void {
    this.child?.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
