import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { AccountService } from '../src/auth/account.service.js';
import { SessionsService } from '../src/session/sessions.service.js';
import { decodePayload } from './support/jwt-forge.js';
import { HttpClient, newUser } from './support/http-client.js';
import { startApp, type TestApp } from './support/test-app.js';

const GRACE_SECONDS = 2;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Pair {
  access: string;
  refresh: string;
}

describe('sessions, rotation and revocation, end to end', () => {
  let testApp: TestApp;
  let api: HttpClient;
  let db: DataSource;

  beforeAll(async () => {
    testApp = await startApp({ REFRESH_REUSE_GRACE_SECONDS: String(GRACE_SECONDS) });
    api = new HttpClient(testApp.baseUrl);
    db = testApp.app.get(DataSource);
  });

  afterAll(async () => {
    await testApp.close();
  });

  async function register() {
    const user = newUser('sess');
    const response = await api.post('/api/register/', user);
    expect(response.status).toBe(201);
    return { ...user, id: response.body.id as number };
  }

  async function login(user: { username: string; password: string }, userAgent = 'jest'): Promise<Pair> {
    const response = await api.request('POST', '/api/token/', {
      body: { username: user.username, password: user.password },
      headers: { 'user-agent': userAgent },
    });
    expect(response.status).toBe(200);
    return response.body;
  }

  const meStatus = async (access: string) => (await api.get('/api/me/', access)).status;
  const refreshStatus = async (refresh: string) => (await api.post('/api/token/refresh/', { refresh })).status;
  const sid = (token: string) => decodePayload(token).sid as string;

  describe('session management', () => {
    it('lists my sessions with client details and marks the current one', async () => {
      const user = await register();
      const phone = await login(user, 'Phone/1.0');
      const laptop = await login(user, 'Laptop/2.0');
      const response = await api.get('/api/sessions/', laptop.access);
      expect(response.status).toBe(200);
      expect(response.body).toHaveLength(2);
      const byId = Object.fromEntries(response.body.map((session: { id: string }) => [session.id, session]));
      expect(byId[sid(laptop.access)]).toMatchObject({ current: true, user_agent: 'Laptop/2.0', ip: '127.0.0.1' });
      expect(byId[sid(phone.access)]).toMatchObject({ current: false, user_agent: 'Phone/1.0' });
      expect(Object.keys(byId[sid(phone.access)]).sort()).toEqual(
        ['created_at', 'current', 'expires_at', 'id', 'ip', 'last_seen_at', 'user_agent'].sort(),
      );
    });

    it('revokes one session: its tokens die at once, the others live', async () => {
      const user = await register();
      const first = await login(user);
      const second = await login(user);
      const revoked = await api.delete(`/api/sessions/${sid(second.access)}/`, first.access);
      expect(revoked.status).toBe(204);
      expect(await meStatus(second.access)).toBe(401);
      expect(await refreshStatus(second.refresh)).toBe(401);
      expect(await meStatus(first.access)).toBe(200);
      expect((await api.get('/api/sessions/', first.access)).body).toHaveLength(1);
      expect((await api.delete(`/api/sessions/${sid(second.access)}/`, first.access)).status).toBe(404);
      expect((await api.delete('/api/sessions/not-a-uuid/', first.access)).status).toBe(404);
    });

    it("cannot revoke another user's session", async () => {
      const alice = await register();
      const mallory = await register();
      const aliceTokens = await login(alice);
      const malloryTokens = await login(mallory);
      expect((await api.delete(`/api/sessions/${sid(aliceTokens.access)}/`, malloryTokens.access)).status).toBe(404);
      expect(await meStatus(aliceTokens.access)).toBe(200);
    });

    it('two logins, then "log out everywhere else": only the caller survives', async () => {
      const user = await register();
      const sessions = [await login(user), await login(user), await login(user)];
      const response = await api.post('/api/logout/others/', {}, sessions[0].access);
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ revoked: 2 });
      const statuses = await Promise.all(sessions.map((pair) => meStatus(pair.access)));
      expect(statuses).toEqual([200, 401, 401]);
      expect(await refreshStatus(sessions[1].refresh)).toBe(401);
      expect(await refreshStatus(sessions[2].refresh)).toBe(401);
      expect(await refreshStatus(sessions[0].refresh)).toBe(200);
    });

    it('"log out everywhere" ends every session, the caller included', async () => {
      const user = await register();
      const sessions = [await login(user), await login(user)];
      expect((await api.post('/api/logout/all/', {}, sessions[0].access)).status).toBe(205);
      for (const pair of sessions) {
        expect(await meStatus(pair.access)).toBe(401);
        expect(await refreshStatus(pair.refresh)).toBe(401);
      }
      expect(await meStatus((await login(user)).access)).toBe(200); // a new login works
    });
  });

  describe('password change', () => {
    it('checks the old password and the new one, then ends every other session', async () => {
      const user = await register();
      const current = await login(user);
      const other = await login(user);

      const wrongOld = await api.post('/api/password/change/', { old_password: 'not-it-123', new_password: 'Another-good-one-42' }, current.access);
      expect(wrongOld.status).toBe(400);
      expect(wrongOld.body).toEqual({ old_password: ['Your old password was entered incorrectly. Please enter it again.'] });
      const weak = await api.post('/api/password/change/', { old_password: user.password, new_password: '12345678' }, current.access);
      expect(weak.status).toBe(400);
      expect(weak.body.new_password).toEqual(['This password is too common.', 'This password is entirely numeric.']);
      const missing = await api.post('/api/password/change/', {}, current.access);
      expect(missing.body).toEqual({ old_password: ['This field is required.'], new_password: ['This field is required.'] });
      expect(await meStatus(other.access)).toBe(200); // nothing happened yet

      const newPassword = 'Another-good-one-42';
      const changed = await api.post('/api/password/change/', { old_password: user.password, new_password: newPassword }, current.access);
      expect(changed.status).toBe(200);
      expect(await meStatus(other.access)).toBe(401);
      expect(await refreshStatus(other.refresh)).toBe(401);
      expect(await meStatus(current.access)).toBe(200);
      expect(await refreshStatus(current.refresh)).toBe(200);
      expect((await api.post('/api/token/', { username: user.username, password: user.password })).status).toBe(401);
      expect((await api.post('/api/token/', { username: user.username, password: newPassword })).status).toBe(200);
    });
  });

  describe('deactivation', () => {
    it('revokes every session: access and refresh tokens stop working at once', async () => {
      const user = await register();
      const pairs = [await login(user), await login(user)];
      expect(await meStatus(pairs[0].access)).toBe(200);
      expect(await testApp.app.get(AccountService).deactivate(user.id)).toBe(true);
      for (const pair of pairs) {
        const me = await api.get('/api/me/', pair.access);
        expect(me.status).toBe(401);
        expect(me.body).toEqual({ detail: 'User is inactive', code: 'user_inactive' });
        expect(await refreshStatus(pair.refresh)).toBe(401);
      }
      const [{ count }] = await db.query('SELECT count(*)::int AS count FROM sessions WHERE user_id = $1 AND revoked_at IS NULL', [user.id]);
      expect(count).toBe(0);
      expect((await api.post('/api/token/', { username: user.username, password: user.password })).status).toBe(401);
    });
  });

  describe('refresh rotation under races (RFC 9700)', () => {
    it('20 concurrent refreshes of one token: all answered, one chain, the session survives', async () => {
      const user = await register();
      const pair = await login(user);
      const results = await Promise.all(
        Array.from({ length: 20 }, () => api.post('/api/token/refresh/', { refresh: pair.refresh })),
      );
      const statuses = results.map((result) => result.status);
      expect(statuses.filter((status) => status >= 500)).toEqual([]);
      expect(statuses).toEqual(Array(20).fill(200));
      const refreshTokens = new Set(results.map((result) => result.body.refresh as string));
      expect(refreshTokens.size).toBe(1); // never forked into two live chains
      const [head] = refreshTokens;
      const rows = await db.query('SELECT refresh_jti, revoked_at FROM sessions WHERE id = $1', [sid(pair.access)]);
      expect(rows[0]).toEqual({ refresh_jti: decodePayload(head).jti, revoked_at: null });
      for (const result of results.slice(0, 3)) expect(await meStatus(result.body.access)).toBe(200);
      const next = await api.post('/api/token/refresh/', { refresh: head });
      expect(next.status).toBe(200);
      expect(await meStatus(next.body.access)).toBe(200);
    });

    it('a refresh token replayed after the grace window revokes the whole session', async () => {
      const user = await register();
      const stolen = await login(user);
      const victim = await api.post('/api/token/refresh/', { refresh: stolen.refresh });
      expect(victim.status).toBe(200);
      await sleep(GRACE_SECONDS * 1000 + 1100);
      const replay = await api.post('/api/token/refresh/', { refresh: stolen.refresh });
      expect(replay.status).toBe(401);
      expect(replay.body).toEqual({ detail: 'Token is blacklisted', code: 'token_not_valid' });
      // Both the attacker's and the victim's tokens are dead now.
      expect(await refreshStatus(victim.body.refresh)).toBe(401);
      expect(await meStatus(victim.body.access)).toBe(401);
      expect(await meStatus(stolen.access)).toBe(401);
      const [row] = await db.query('SELECT revoked_reason FROM sessions WHERE id = $1', [sid(stolen.access)]);
      expect(row.revoked_reason).toBe('refresh_reuse');
    });

    it('inside the grace window the same token gets the same answer twice (two tabs)', async () => {
      const user = await register();
      const pair = await login(user);
      const tabOne = await api.post('/api/token/refresh/', { refresh: pair.refresh });
      const tabTwo = await api.post('/api/token/refresh/', { refresh: pair.refresh });
      expect([tabOne.status, tabTwo.status]).toEqual([200, 200]);
      expect(tabTwo.body.refresh).toBe(tabOne.body.refresh);
      expect(await meStatus(tabTwo.body.access)).toBe(200);
    });
  });

  describe('cleanup (tokens:flush)', () => {
    it('removes expired sessions and blacklist rows and keeps live ones', async () => {
      const user = await register();
      const live = await login(user);
      await db.query(
        `INSERT INTO sessions (id, user_id, created_at, last_seen_at, refresh_jti, refresh_iat, expires_at)
         VALUES ('00000000-0000-4000-8000-00000000dead', $1, now() - interval '3 days', now() - interval '3 days',
                 'deadbeefdeadbeefdeadbeefdeadbeef', 0, now() - interval '2 days')`,
        [user.id],
      );
      await db.query(
        `INSERT INTO blacklisted_tokens (jti, user_id, expires_at) VALUES
           ('0123456789abcdef0123456789abcdef', $1, now() - interval '1 hour'),
           ('fedcba9876543210fedcba9876543210', $1, now() + interval '1 hour')`,
        [user.id],
      );
      const removed = await testApp.app.get(SessionsService).flushExpired();
      expect(removed.sessions).toBeGreaterThanOrEqual(1);
      expect(removed.blacklisted).toBeGreaterThanOrEqual(1);
      const sessions = await db.query('SELECT id FROM sessions WHERE user_id = $1', [user.id]);
      expect(sessions.map((row: { id: string }) => row.id)).toEqual([sid(live.access)]);
      const jtis = await db.query('SELECT jti FROM blacklisted_tokens WHERE user_id = $1', [user.id]);
      expect(jtis).toEqual([{ jti: 'fedcba9876543210fedcba9876543210' }]);
      expect(await meStatus(live.access)).toBe(200);
    });
  });
});

describe('brute-force limits (Redis-backed, per IP and per account)', () => {
  let testApp: TestApp;
  let api: HttpClient;

  beforeAll(async () => {
    testApp = await startApp({ RATE_LIMIT_IP_PER_MINUTE: '5', RATE_LIMIT_LOGIN_ACCOUNT_ATTEMPTS: '3', TRUST_PROXY_HOPS: '1' });
    api = new HttpClient(testApp.baseUrl);
  });

  afterAll(async () => {
    await testApp.close();
  });

  const loginFrom = (ip: string, username: string, password: string) =>
    api.request('POST', '/api/token/', { body: { username, password }, headers: { 'x-forwarded-for': ip } });

  it('answers 429 with Retry-After past the per-IP budget, per client IP from X-Forwarded-For', async () => {
    const statuses: number[] = [];
    let last;
    for (let attempt = 0; attempt < 6; attempt += 1) {
      last = await loginFrom('203.0.113.7', `nobody${attempt}`, 'whatever-password');
      statuses.push(last.status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(last!.body.detail).toMatch(/^Request was throttled\. Expected available in \d+ seconds\.$/);
    // Another client (another address appended by the trusted proxy) has its own budget.
    expect((await loginFrom('203.0.113.8', 'nobody', 'whatever-password')).status).toBe(401);
  });

  it('trusts only as many X-Forwarded-For hops as configured (a spoofed left-most entry is ignored)', async () => {
    // With one trusted hop the client is the right-most address; the spoofed ones change nothing.
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 6; attempt += 1) {
      const response = await loginFrom(`203.0.113.${100 + attempt}, 198.51.100.9`, `ghost${attempt}`, 'whatever-password');
      statuses.push(response.status);
    }
    expect(statuses.at(-1)).toBe(429);
  });

  it('throttles a login identifier after repeated failures, whatever the client address', async () => {
    const user = newUser('brute');
    expect((await api.request('POST', '/api/register/', { body: user, headers: { 'x-forwarded-for': '192.0.2.1' } })).status).toBe(201);
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 3; attempt += 1) {
      statuses.push((await loginFrom(`192.0.2.${10 + attempt}`, user.username, 'wrong-password-xyz')).status);
    }
    // Even the right password is refused for now, from anywhere (test/lockout.e2e-spec.ts: the e-mail has a budget of its own).
    const locked = await loginFrom('192.0.2.50', user.username, user.password);
    expect(statuses).toEqual([401, 401, 401]);
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('a successful login gives its point back; failures stay counted', async () => {
    const user = newUser('mistype');
    expect((await api.request('POST', '/api/register/', { body: user, headers: { 'x-forwarded-for': '192.0.2.60' } })).status).toBe(201);
    const statuses: number[] = [];
    for (const password of ['wrong-1-xyz', 'wrong-2-xyz', user.password, user.password, user.password, 'wrong-3-xyz', user.password]) {
      statuses.push((await loginFrom(`192.0.2.${61 + statuses.length}`, user.username, password)).status);
    }
    // Logins do not use the budget up (a user who logs in often is never locked out); a success does
    // not forgive failures either (an owner's login must not hand an attacker a fresh budget).
    expect(statuses).toEqual([401, 401, 200, 200, 200, 401, 429]);
  });

  it('limits registration and refresh per IP as well', async () => {
    const registerStatuses: number[] = [];
    for (let attempt = 0; attempt < 6; attempt += 1) {
      const response = await api.request('POST', '/api/register/', { body: {}, headers: { 'x-forwarded-for': '192.0.2.99' } });
      registerStatuses.push(response.status);
    }
    expect(registerStatuses).toEqual([400, 400, 400, 400, 400, 429]);
    const refreshStatuses: number[] = [];
    for (let attempt = 0; attempt < 6; attempt += 1) {
      const response = await api.request('POST', '/api/token/refresh/', { body: { refresh: 'x' }, headers: { 'x-forwarded-for': '192.0.2.98' } });
      refreshStatuses.push(response.status);
    }
    expect(refreshStatuses).toEqual([401, 401, 401, 401, 401, 429]);
  });
});
