import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpClient, newUser } from './support/http-client.js';
import { type ServiceProcess, startServiceProcess } from './support/service-process.js';
import { linkParameters, SmtpSink } from './support/smtp-sink.js';

const RECORDER = join(dirname(fileURLToPath(import.meta.url)), 'support', 'record-connections.mjs');
const SERVER_PORTS = [5432, 6379];
/** PGlite's first start runs initdb in WebAssembly: seconds alone, much more on a busy 2-core machine. */
const START_TIMEOUT_MS = 100_000;

interface Connection {
  host?: string;
  port?: number;
  path?: string;
}

/**
 * Embedded mode, as a developer runs it: dist/main.js with neither DATABASE_URL nor REDIS_URL (so
 * PGlite in process and the Redis roles in memory), data in a temporary DATA_DIR. The HTTP contract
 * holds, revocation is instant, jobs run in process with their retries, concurrent requests do not
 * interleave their transactions on PGlite's one session, a user outlives a restart — and the
 * process never connects to a PostgreSQL or Redis server (every connection it opens is recorded).
 */
describe('embedded mode (no DATABASE_URL, no REDIS_URL)', () => {
  let dataDir: string;
  let connectionLog: string;
  let smtp: SmtpSink;
  let service: ServiceProcess;
  let api: HttpClient;
  const alice = newUser('emb');

  const start = async () => {
    service = await startServiceProcess('main', {
      DATABASE_URL: '',
      REDIS_URL: '',
      DATA_DIR: dataDir,
      NODE_ENV: 'development',
      LOG_LEVEL: 'log',
      SMTP_URL: smtp.url,
      JOB_BACKOFF_MS: '100',
      OUTBOX_RELAY_INTERVAL_MS: '200',
      RATE_LIMIT_LOGIN_ACCOUNT_IP_ATTEMPTS: '3',
      NODE_OPTIONS: `--import ${RECORDER}`,
      CONNECTION_LOG: connectionLog,
    }, START_TIMEOUT_MS);
    api = new HttpClient(service.baseUrl);
  };

  const connections = (): Connection[] =>
    readFileSync(connectionLog, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Connection);

  const login = async (username: string, password: string) => api.post('/api/token/', { username, password });

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'auth-embedded-'));
    connectionLog = join(dataDir, 'connections.jsonl');
    smtp = await SmtpSink.start();
    await start();
  }, START_TIMEOUT_MS + 10_000);

  afterAll(async () => {
    await service?.stop();
    await smtp?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('says in one boot line what is embedded, and keeps the data in DATA_DIR', () => {
    expect(service.output()).toMatch(/PostgreSQL: embedded \(PGlite, .*pg; .*\) · Redis roles: in-process .* — single instance only/);
    expect(readdirSync(join(dataDir, 'pg'))).toContain('PG_VERSION');
  });

  it('serves register, login, refresh, verify, sessions and /api/me/, and revocation is instant', async () => {
    const registered = await api.post('/api/register/', alice);
    expect(registered.status).toBe(201);
    expect(registered.body).toEqual({ id: expect.any(Number), username: alice.username, email: alice.email.toLowerCase() });

    expect((await login(alice.username, 'wrong-password')).body).toMatchObject({ detail: 'No active account found with the given credentials' });
    const first = await login(alice.email, alice.password);
    expect(first.status).toBe(200);
    const me = await api.get('/api/me/', first.body.access);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ id: registered.body.id, username: alice.username });
    expect((await api.get('/api/me/', first.body.access)).body).toEqual(me.body); // second read: the in-memory response cache

    const refreshed = await api.post('/api/token/refresh/', { refresh: first.body.refresh });
    expect(refreshed.status).toBe(200);
    expect((await api.post('/api/token/verify/', { token: refreshed.body.access })).status).toBe(200);

    const second = await login(alice.username, alice.password);
    const sessions = await api.get('/api/sessions/', second.body.access);
    expect(sessions.body).toHaveLength(2);

    // Logout kills that session's access token at once (the in-memory fast path), not the other session.
    expect((await api.post('/api/logout/', { refresh: refreshed.body.refresh }, refreshed.body.access)).status).toBe(205);
    const revoked = await api.get('/api/me/', refreshed.body.access);
    expect(revoked.status).toBe(401);
    expect(revoked.text).toContain('Token is blacklisted');
    expect((await api.post('/api/token/refresh/', { refresh: refreshed.body.refresh })).status).toBe(401);
    expect((await api.get('/api/me/', second.body.access)).status).toBe(200);

    // Revoking one session by id ends it at once too.
    const other = (await api.get('/api/sessions/', second.body.access)).body as Array<{ id: string; current: boolean }>;
    expect(other).toHaveLength(1);
    expect((await api.delete(`/api/sessions/${other[0].id}/`, second.body.access)).status).toBe(204);
    expect((await api.get('/api/me/', second.body.access)).status).toBe(401);
  });

  it('limits login attempts with the in-memory limiter', async () => {
    const target = newUser('embrl');
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 4; attempt++) statuses.push((await login(target.username, 'not-it')).status);
    expect(statuses).toEqual([401, 401, 401, 429]);
  });

  it('runs e-mail jobs in process from the outbox, with retries and backoff', async () => {
    const attemptsBefore = smtp.attempts;
    smtp.failNext(alice.email, 2); // two temporary failures, then the relay takes it
    expect((await api.post('/api/password/reset/', { email: alice.email })).status).toBe(202);
    const mail = await smtp.waitFor(alice.email, /reset/i);
    expect(smtp.attempts - attemptsBefore).toBeGreaterThanOrEqual(3);
    const { uid, token } = linkParameters(mail);
    alice.password = 'Another-strong-passphrase-42!';
    expect((await api.post('/api/password/reset/confirm/', { uid, token, new_password: alice.password })).status).toBe(200);
    expect((await login(alice.username, alice.password)).status).toBe(200);
  });

  it('does not interleave concurrent transactions on the one session', async () => {
    // One username, twenty registrations at once: the unique constraint sees them one after another.
    const contested = newUser('embrace');
    const attempts = await Promise.all(
      Array.from({ length: 20 }, (_, index) => api.post('/api/register/', { ...contested, email: `race${index}-${contested.email}` })),
    );
    expect(attempts.filter((response) => response.status === 201)).toHaveLength(1);
    expect(attempts.filter((response) => response.status === 400)).toHaveLength(19);

    // Distinct users in parallel: each registration, login and refresh succeeds, none gets a 5xx.
    const users = Array.from({ length: 12 }, () => newUser('embpar'));
    expect((await Promise.all(users.map((user) => api.post('/api/register/', user)))).map((r) => r.status)).toEqual(users.map(() => 201));
    const tokens = await Promise.all(users.map((user) => login(user.username, user.password)));
    expect(tokens.map((r) => r.status)).toEqual(users.map(() => 200));
    const refreshes = await Promise.all(tokens.map((r) => api.post('/api/token/refresh/', { refresh: r.body.refresh })));
    expect(refreshes.map((r) => r.status)).toEqual(users.map(() => 200));
  });

  it('keeps users and revocations across a restart', async () => {
    const before = await login(alice.username, alice.password);
    expect((await api.post('/api/logout/', {}, before.body.access)).status).toBe(205);
    expect(await service.stop()).toBe(0);
    await start();
    // The in-memory records are gone; PostgreSQL (on disk) still says the session is revoked.
    expect((await api.get('/api/me/', before.body.access)).status).toBe(401);
    const after = await login(alice.email, alice.password);
    expect(after.status).toBe(200);
    expect((await api.get('/api/me/', after.body.access)).body).toMatchObject({ username: alice.username });
  }, START_TIMEOUT_MS + 20_000);

  it('never connects to a PostgreSQL or Redis server', () => {
    const opened = connections();
    // The recorder works: it saw the pool connect to the embedded server and the mailer to the SMTP sink.
    expect(opened.some((target) => target.port === smtp.port)).toBe(true);
    expect(opened.filter((target) => target.host === '127.0.0.1' && target.port !== smtp.port).length).toBeGreaterThan(0);
    expect(opened.filter((target) => SERVER_PORTS.includes(Number(target.port)))).toEqual([]);
    // And what is open right now: none of the process's TCP sockets goes to 5432 or 6379.
    expect(remotePortsOf(service.child.pid!).filter((port) => SERVER_PORTS.includes(port))).toEqual([]);
  });
});

/** Remote ports of the process's TCP sockets (its /proc fds matched against /proc/net/tcp{,6}). */
function remotePortsOf(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(match[1]);
    } catch {
      // closed meanwhile
    }
  }
  const ports: number[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length > 9 && inodes.has(fields[9])) ports.push(parseInt(fields[2].split(':')[1], 16));
    }
  }
  return ports;
}
