import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { runMigrations } from '../src/database/run-migrations.js';
import { readDatabaseConfig } from '../src/config/database.config.js';
import { buildDataSourceOptions } from '../src/database/data-source-options.js';
import { ReplicaPools } from '../src/database/replica-pools.service.js';
import { AccountTokensService } from '../src/account-links/account-tokens.service.js';
import { nowSeconds } from '../src/common/time.js';
import { UsersService } from '../src/users/users.service.js';
import { type ApiResponse, HttpClient, newUser } from './support/http-client.js';
import { PgCluster } from './support/pg-cluster.js';
import { typescriptMigrations } from './support/migrations.js';
import { startApp, type TestApp } from './support/test-app.js';
import { waitFor } from './support/wait.js';

/**
 * Reads, writes and the replica (DESIGN.md), on a private PostgreSQL 15 primary and a real
 * streaming hot-standby replica (test/support/pg-cluster.ts; the machine's PostgreSQL is never
 * touched). Faults are made for real: WAL replay is paused on the replica (lag), the replica is
 * killed (pg_ctl stop -m immediate) and restarted, frozen (SIGSTOP: open connections get no
 * answer), and a web process starts while it is down.
 * Login, registration, refresh and logout must keep working with no 5xx; GET /api/me/ is the one
 * read that may use the replica, and falls back to the primary when the replica errors or has no row.
 */
const CONNECT_TIMEOUT_MS = 1000;
/** Also the client-side bound of a replica query (a frozen replica cannot enforce its own). */
const STATEMENT_TIMEOUT_MS = 3000;
/** A request still unanswered after this long during a freeze is taken as hanging. */
const HANG_MS = 15_000;
/** The app's connections carry this application_name (the test helper's do not). */
const APP_NAME = 'auth-service';

interface CaseRecord {
  requests: number;
  /** "METHOD path → status" → count, in order of first appearance. */
  statuses: Map<string, number>;
  serverErrors: string[];
}

/** HttpClient that tallies every request of the current case (statuses, 5xx) for the summary. */
class RecordingClient extends HttpClient {
  constructor(baseUrl: string, private readonly tally: () => CaseRecord | undefined) {
    super(baseUrl);
  }

  override async request<T = any>(method: string, path: string, options: Parameters<HttpClient['request']>[2] = {}): Promise<ApiResponse<T>> {
    const response = await super.request<T>(method, path, options);
    const record = this.tally();
    if (record) {
      const key = `${method} ${path} → ${response.status}`;
      record.requests += 1;
      record.statuses.set(key, (record.statuses.get(key) ?? 0) + 1);
      if (response.status >= 500) record.serverErrors.push(`${key}: ${response.text.slice(0, 200)}`);
    }
    return response;
  }
}

interface Account {
  user: ReturnType<typeof newUser>;
  id: number;
  tokens: { access: string; refresh: string };
}

describe('Reads, writes and the replica: a lagging or dead replica breaks nothing', () => {
  let cluster: PgCluster;
  let testApp: TestApp;
  let api: RecordingClient;
  let current: CaseRecord | undefined;
  const cases = new Map<string, CaseRecord>();
  const notes: string[] = [];

  beforeAll(async () => {
    cluster = await PgCluster.start();
    // Migrations run on the primary only: run them as a release phase would (the replica is in the
    // configuration) while the replica is down.
    await cluster.stopReplica();
    const applied = await runMigrations(
      buildDataSourceOptions(readDatabaseConfig({ ...process.env, DATABASE_URL: cluster.primaryUrl, DATABASE_REPLICA_URL: cluster.replicaUrl }), {
        migrations: await typescriptMigrations(),
        applicationName: 'auth-migrations',
      }),
      () => undefined,
    );
    expect(applied.length).toBeGreaterThan(0);
    notes.push(`migrations: ${applied.length} applied on the primary while the replica was stopped`);
    await cluster.startReplica();
    await cluster.waitForReplicaCatchUp();

    testApp = await startApp(appEnv());
    api = new RecordingClient(testApp.baseUrl, () => current);
  }, 60_000);

  afterAll(async () => {
    await testApp?.close();
    await cluster?.close();
    // The figures for the issue note: requests made, statuses, any 5xx.
    console.log(
      'Replica tests\n' +
        [
          ...notes,
          ...[...cases.entries()].map(
            ([name, record]) =>
              `${name}: ${record.requests} requests, ${record.serverErrors.length} 5xx` +
              (record.serverErrors.length ? ` (${record.serverErrors.join('; ')})` : '') +
              `\n  ${[...record.statuses.entries()].map(([key, count]) => (count > 1 ? `${key} ×${count}` : key)).join(', ')}`,
          ),
        ].join('\n'),
    );
  });

  function appEnv(): Record<string, string> {
    return {
      // Its own database means its own Redis keys: user ids here collide with the other suites' ones
      // (in production one database has one key prefix).
      REDIS_KEY_PREFIX: `${process.env.REDIS_KEY_PREFIX}replica:`,
      DATABASE_URL: cluster.primaryUrl,
      DATABASE_REPLICA_URL: cluster.replicaUrl,
      DATABASE_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
      DATABASE_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS),
    };
  }

  function begin(name: string): CaseRecord {
    current = { requests: 0, statuses: new Map(), serverErrors: [] };
    cases.set(name, current);
    return current;
  }

  /** Registers and logs in a fresh user (a fresh user also means a cold GET /api/me/ response cache). */
  async function registeredUser(prefix: string, client: HttpClient = api): Promise<Account> {
    const user = newUser(prefix);
    const registered = await client.post('/api/register/', user);
    expect(registered.status).toBe(201);
    const login = await client.post('/api/token/', { username: user.username, password: user.password });
    expect(login.status).toBe(200);
    return { user, id: registered.body.id as number, tokens: login.body };
  }

  /**
   * GET /api/me/, and how many of the app's own connections to the replica ran a SELECT on users
   * while it was answered: pg_stat_activity on the replica is live (no statistics delay), and
   * only the profile read queries the replica. Call it for a user whose /me is not cached yet.
   */
  async function meWithReplicaReads(token: string, client: HttpClient = api) {
    const [{ now }] = await cluster.query<{ now: Date }>('replica', 'SELECT clock_timestamp() AS now');
    const me = await client.get('/api/me/', token);
    const [{ reads }] = await cluster.query<{ reads: string }>(
      'replica',
      `SELECT count(*) AS reads FROM pg_stat_activity
        WHERE application_name = $1 AND datname = 'auth' AND query LIKE 'SELECT %FROM "users"%' AND query_start >= $2`,
      [APP_NAME, now],
    );
    return { me, replicaReads: Number(reads) };
  }

  async function lastLogin(server: 'primary' | 'replica', id: number): Promise<Date | null | undefined> {
    const rows = await cluster.query<{ last_login: Date | null }>(server, 'SELECT last_login FROM users WHERE id = $1', [id]);
    return rows[0]?.last_login;
  }

  /** ReplicaReader logs this when a replica read errors and the primary answers instead. */
  function replicaErrorFallbacks(app: TestApp = testApp): number {
    return app.logs.filter((line) => line.includes('replica read failed')).length;
  }

  it('healthy: register, login and GET /api/me/ work, and the profile read is served by the replica', async () => {
    const record = begin('1 healthy');
    const ready = await api.get('/health/ready/');
    expect(ready.status).toBe(200);
    expect(ready.body.details.database_primary.status).toBe('up');
    expect(ready.body.details.database_replica_0.status).toBe('up');
    // The schema the migrations wrote on the primary reached the replica by replication.
    const [applied] = await cluster.query<{ count: string }>('replica', 'SELECT count(*) AS count FROM typeorm_migrations');
    expect(Number(applied.count)).toBeGreaterThan(0);

    const accounts = [await registeredUser('replica'), await registeredUser('replica'), await registeredUser('replica')];
    await cluster.waitForReplicaCatchUp(); // the rows are on the replica: no fallback is expected
    const errorsBefore = replicaErrorFallbacks();
    let served = 0;
    for (const { user, id, tokens } of accounts) {
      const { me, replicaReads } = await meWithReplicaReads(tokens.access);
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({ id, username: user.username, email: user.email.toLowerCase() });
      expect(replicaReads).toBeGreaterThanOrEqual(1);
      served += 1;
    }
    expect(replicaErrorFallbacks()).toBe(errorsBefore);
    notes.push(`1 healthy: ${served}/${accounts.length} cold GET /api/me/ ran their SELECT on the replica (pg_stat_activity there), 0 fallbacks`);
    expect(record.serverErrors).toEqual([]);
  });

  it('replay paused (lag): a new user registers, logs in, reads /me (from the primary), refreshes and logs out', async () => {
    const record = begin('2 replay paused');
    // An account that is on the replica before the lag starts.
    const existing = await registeredUser('lagold');
    await waitFor(async () => (await lastLogin('primary', existing.id)) != null, 10_000, 'last_login written on the primary');
    await cluster.waitForReplicaCatchUp();
    const replicaLoginBefore = (await lastLogin('replica', existing.id))!;
    expect(replicaLoginBefore).toBeInstanceOf(Date);

    await cluster.pauseReplay();
    try {
      // The existing user logs in again: last_login moves on the primary only.
      const again = await api.post('/api/token/', { username: existing.user.username, password: existing.user.password });
      expect(again.status).toBe(200);
      await waitFor(async () => (await lastLogin('primary', existing.id))!.getTime() !== replicaLoginBefore.getTime(), 10_000, 'the second last_login on the primary');
      expect((await lastLogin('replica', existing.id))!.getTime()).toBe(replicaLoginBefore.getTime());
      // Its profile comes from the replica (a present but lagging row is served, as DESIGN allows
      // for a read that decides nothing): the old last_login is the replica's fingerprint.
      const stale = await meWithReplicaReads(again.body.access);
      expect(stale.me.status).toBe(200);
      expect(stale.me.body.username).toBe(existing.user.username);
      expect(stale.me.body.last_login).toBe(replicaLoginBefore.toISOString());
      expect(stale.replicaReads).toBeGreaterThanOrEqual(1);

      // A brand-new user: nothing of it reaches the replica while replay is paused.
      const fresh = newUser('lagnew');
      const registered = await api.post('/api/register/', fresh);
      expect(registered.status).toBe(201);
      const login = await api.post('/api/token/', { username: fresh.username, password: fresh.password });
      expect(login.status).toBe(200);
      const onReplica = () => cluster.query('replica', 'SELECT id FROM users WHERE username = $1', [fresh.username]);
      expect(await onReplica()).toEqual([]);

      const errorsBefore = replicaErrorFallbacks();
      const { me, replicaReads } = await meWithReplicaReads(login.body.access);
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({ id: registered.body.id, username: fresh.username });
      expect(replicaReads).toBeGreaterThanOrEqual(1); // the replica was asked first…
      expect(await onReplica()).toEqual([]); // …had no row, so that answer came from the primary
      expect(replicaErrorFallbacks()).toBe(errorsBefore); // a missing row is a fallback, not an error

      const refreshed = await api.post('/api/token/refresh/', { refresh: login.body.refresh });
      expect(refreshed.status).toBe(200);
      expect((await api.get('/api/me/', refreshed.body.access)).status).toBe(200);
      const logout = await api.post('/api/logout/', { refresh: refreshed.body.refresh }, refreshed.body.access);
      expect(logout.status).toBe(205);
      expect((await api.get('/api/me/', refreshed.body.access)).status).toBe(401);
      expect((await api.post('/api/token/refresh/', { refresh: refreshed.body.refresh })).status).toBe(401);
      // Logging in again (by e-mail this time) still works during the lag.
      expect((await api.post('/api/token/', { username: fresh.email, password: fresh.password })).status).toBe(200);
    } finally {
      await cluster.resumeReplay();
    }
    expect(await cluster.query('replica', 'SELECT 1 FROM users WHERE id = $1', [existing.id])).toHaveLength(1);
    notes.push('2 replay paused: a present-but-stale row is served by the replica (old last_login); a missing row → the primary');
    expect(record.serverErrors).toEqual([]);
  });

  it('replica killed: register, login, /me and refresh work, readiness says degraded; the restarted replica serves again', async () => {
    const record = begin('3 replica killed');
    const existing = await registeredUser('killold');
    await cluster.waitForReplicaCatchUp();

    await cluster.stopReplica();
    let slowest = 0;
    try {
      const errorsBefore = replicaErrorFallbacks();
      const fresh = await registeredUser('killnew');
      for (const { user, id, tokens } of [fresh, existing]) {
        const started = Date.now();
        const me = await api.get('/api/me/', tokens.access);
        slowest = Math.max(slowest, Date.now() - started);
        expect(me.status).toBe(200);
        expect(me.body).toMatchObject({ id, username: user.username });
      }
      // Both profile reads tried the dead replica, failed, and were answered by the primary.
      expect(replicaErrorFallbacks()).toBeGreaterThanOrEqual(errorsBefore + 2);
      expect(slowest).toBeLessThan(CONNECT_TIMEOUT_MS + 2000);

      const refreshed = await api.post('/api/token/refresh/', { refresh: fresh.tokens.refresh });
      expect(refreshed.status).toBe(200);
      expect((await api.get('/api/me/', refreshed.body.access)).status).toBe(200);
      const again = await api.post('/api/token/', { username: existing.user.username, password: existing.user.password });
      expect(again.status).toBe(200);

      const ready = await api.get('/health/ready/');
      expect(ready.status).toBe(200);
      expect(ready.body.details.database_primary.status).toBe('up');
      expect(ready.body.details.database_replica_0.status).toBe('degraded');
    } finally {
      await cluster.startReplica();
    }
    await waitFor(async () => (await api.get('/health/ready/')).body.details.database_replica_0.status === 'up', 10_000, 'readiness: replica up');

    // Back up: a new user's profile is read from the replica again, without an error fallback.
    const after = await registeredUser('killafter');
    await cluster.waitForReplicaCatchUp();
    const errorsBefore = replicaErrorFallbacks();
    const { me, replicaReads } = await meWithReplicaReads(after.tokens.access);
    expect(me.status).toBe(200);
    expect(me.body.username).toBe(after.user.username);
    expect(replicaReads).toBeGreaterThanOrEqual(1);
    expect(replicaErrorFallbacks()).toBe(errorsBefore);
    expect((await api.get('/api/me/', existing.tokens.access)).status).toBe(200);
    notes.push(`3 replica killed: slowest /me with the replica down ${slowest} ms; after the restart /me is read on the replica again`);
    expect(record.serverErrors).toEqual([]);
  });

  it('replica frozen (SIGSTOP): nothing hangs, /me falls back within the statement timeout, readiness says degraded', async () => {
    const record = begin('4 replica frozen');
    const [warm, waiting] = [await registeredUser('frozen'), await registeredUser('frozen')];
    await cluster.waitForReplicaCatchUp();
    // The pool now holds open connections to the replica: the freeze catches them mid-life.
    expect((await meWithReplicaReads(warm.tokens.access)).replicaReads).toBeGreaterThanOrEqual(1);

    // The app's pool for the replica (the provider that owns it; readiness and reads use it too).
    const replicaPool = testApp.app.get(ReplicaPools).pool(0);
    const pooledBefore = replicaPool.totalCount;
    expect(replicaPool.idleCount).toBeGreaterThanOrEqual(1);

    await cluster.freezeReplica();
    const timings: number[] = [];
    /** Runs one request, failing fast (instead of at Jest's timeout) if it hangs on the frozen replica. */
    const timed = async <T>(what: string, call: () => Promise<T>): Promise<T> => {
      const started = Date.now();
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        return await Promise.race([
          call(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`${what} still unanswered after ${HANG_MS} ms: it hangs on the frozen replica`)), HANG_MS);
          }),
        ]);
      } finally {
        clearTimeout(timer);
        timings.push(Date.now() - started);
      }
    };
    try {
      // An open connection to the frozen replica: the profile read must time out on the client
      // (the replica cannot enforce its statement_timeout) and fall back to the primary, and that
      // connection, still waiting for its answer, must leave the pool rather than be reused.
      const first = await timed('GET /api/me/', () => api.get('/api/me/', waiting.tokens.access));
      expect(first.status).toBe(200);
      expect(first.body).toMatchObject({ id: waiting.id, username: waiting.user.username });
      expect(testApp.logs.some((line) => line.includes('replica read failed') && line.includes('timeout'))).toBe(true);
      expect(replicaPool.totalCount).toBeLessThan(pooledBefore);

      const fallbacksBefore = replicaErrorFallbacks();
      const fresh = await timed('register + login', () => registeredUser('frozennew'));
      const freshMe = await timed('GET /api/me/', () => api.get('/api/me/', fresh.tokens.access));
      expect(freshMe.status).toBe(200);
      expect(freshMe.body).toMatchObject({ id: fresh.id, username: fresh.user.username });
      expect(replicaErrorFallbacks()).toBeGreaterThanOrEqual(fallbacksBefore + 1);
      expect((await timed('refresh', () => api.post('/api/token/refresh/', { refresh: fresh.tokens.refresh }))).status).toBe(200);
      const ready = await timed('GET /health/ready/', () => api.get('/health/ready/'));
      expect(ready.status).toBe(200);
      expect(ready.body.details.database_replica_0.status).toBe('degraded');
      // Bounded by the statement timeout (plus a connect timeout), not by the freeze.
      expect(Math.max(...timings)).toBeLessThan(STATEMENT_TIMEOUT_MS + CONNECT_TIMEOUT_MS + 2000);
    } finally {
      cluster.thawReplica();
    }
    await waitFor(async () => (await api.get('/health/ready/')).body.details.database_replica_0.status === 'up', 10_000, 'readiness: replica up');
    const after = await registeredUser('frozenafter');
    await cluster.waitForReplicaCatchUp();
    const errorsBefore = replicaErrorFallbacks();
    const { me, replicaReads } = await meWithReplicaReads(after.tokens.access);
    expect(me.status).toBe(200);
    expect(replicaReads).toBeGreaterThanOrEqual(1);
    expect(replicaErrorFallbacks()).toBe(errorsBefore);
    notes.push(`4 replica frozen: slowest request during the freeze ${Math.max(...timings)} ms (statement timeout ${STATEMENT_TIMEOUT_MS} ms); thawed replica serves /me again`);
    expect(record.serverErrors).toEqual([]);
  });

  it('a write is not undone by a lagging read: after e-mail verification /me shows it, while the replica is still behind', async () => {
    const record = begin('5 read-your-writes');
    const account = await registeredUser('ryw');
    await cluster.waitForReplicaCatchUp();
    // Cached per user, from the replica: not verified yet.
    const before = await meWithReplicaReads(account.tokens.access);
    expect(before.me.status).toBe(200);
    expect(before.me.body.email_verified).toBe(false);
    expect(before.replicaReads).toBeGreaterThanOrEqual(1);

    // The replica applies every commit 4 s late (a real streaming delay, not a pause).
    const setDelay = async (value: string | null) => {
      await cluster.query('replica', value === null ? 'ALTER SYSTEM RESET recovery_min_apply_delay' : `ALTER SYSTEM SET recovery_min_apply_delay = '${value}'`, [], 'postgres');
      await cluster.query('replica', 'SELECT pg_reload_conf()', [], 'postgres');
    };
    await setDelay('4s');
    try {
      const user = (await testApp.app.get(UsersService).findById(account.id))!;
      const token = testApp.app.get(AccountTokensService).make('verify-email', user, nowSeconds());
      const verified = await api.post('/api/email/verify/', { uid: AccountTokensService.encodeUid(account.id), token });
      expect(verified.status).toBe(200);
      // The replica has not applied the write…
      const [onReplica] = await cluster.query<{ email_verified_at: Date | null }>('replica', 'SELECT email_verified_at FROM users WHERE id = $1', [account.id]);
      expect(onReplica.email_verified_at).toBeNull();
      // …so the profile read that refills the cache goes to the primary, and the cache holds the write.
      const after = await api.get('/api/me/', account.tokens.access);
      expect(after.status).toBe(200);
      expect(after.body.email_verified).toBe(true);
      expect((await api.get('/api/me/', account.tokens.access)).body.email_verified).toBe(true);
      const [stillBehind] = await cluster.query<{ email_verified_at: Date | null }>('replica', 'SELECT email_verified_at FROM users WHERE id = $1', [account.id]);
      expect(stillBehind.email_verified_at).toBeNull(); // the answers above did not come from it
    } finally {
      await setDelay(null);
      await cluster.waitForReplicaCatchUp();
    }
    notes.push('5 read-your-writes: with the replica 4 s behind, /me after e-mail verification showed it at once (from the primary)');
    expect(record.serverErrors).toEqual([]);
  });

  it('a web process that starts while the replica is down boots and serves login and registration', async () => {
    const record = begin('6 started with replica down');
    await cluster.stopReplica();
    let replicaDown = true;
    let second: TestApp | undefined;
    try {
      const started = Date.now();
      second = await startApp(appEnv());
      const bootMs = Date.now() - started;
      const other = new RecordingClient(second.baseUrl, () => current);
      const account = await registeredUser('bootdown', other);
      const me = await other.get('/api/me/', account.tokens.access);
      expect(me.status).toBe(200);
      expect(me.body.username).toBe(account.user.username);
      expect(replicaErrorFallbacks(second)).toBeGreaterThanOrEqual(1);
      expect((await other.post('/api/token/refresh/', { refresh: account.tokens.refresh })).status).toBe(200);
      const ready = await other.get('/health/ready/');
      expect(ready.status).toBe(200);
      expect(ready.body.details.database_replica_0.status).toBe('degraded');

      // The replica comes back: the same process starts reading from it, no restart needed.
      await cluster.startReplica();
      replicaDown = false;
      await waitFor(async () => (await other.get('/health/ready/')).body.details.database_replica_0.status === 'up', 10_000, 'readiness: replica up');
      const later = await registeredUser('bootlater', other);
      await cluster.waitForReplicaCatchUp();
      const errorsBefore = replicaErrorFallbacks(second);
      const { me: laterMe, replicaReads } = await meWithReplicaReads(later.tokens.access, other);
      expect(laterMe.status).toBe(200);
      expect(replicaReads).toBeGreaterThanOrEqual(1);
      expect(replicaErrorFallbacks(second)).toBe(errorsBefore);
      notes.push(`6 started with replica down: booted in ${bootMs} ms, degraded until the replica came back, then read from it`);
    } finally {
      await second?.close();
      if (replicaDown) await cluster.startReplica();
    }
    expect(record.serverErrors).toEqual([]);
  });
});
