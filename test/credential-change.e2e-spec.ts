import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { DataSource } from 'typeorm';
import { AccountService } from '../src/auth/account.service.js';
import { INVALID_RESET_LINK } from '../src/auth/account-email.service.js';
import { RedisKeys } from '../src/redis/redis-keys.js';
import { RedisService } from '../src/redis/redis.service.js';
import { RevocationStore } from '../src/session/revocation-store.service.js';
import { SessionsService } from '../src/session/sessions.service.js';
import { forgeToken } from './support/jwt-forge.js';
import { type ApiResponse, HttpClient, newUser } from './support/http-client.js';
import { linkParameters, SmtpSink } from './support/smtp-sink.js';
import { startApp, type TestApp } from './support/test-app.js';
import { waitFor } from './support/wait.js';

/**
 * A credential change wins over what is in flight: logins that checked the old password while a reset,
 * a password change or a deactivation ran; one reset link confirmed many times at once; a Django-shaped
 * token (no session) at logout. Real HTTP, real PostgreSQL and Redis, real SMTP for the links. The
 * figures are printed at the end.
 */
const APP_URL = 'http://frontend.test';
const RESET_SUBJECT = /^Reset your password$/;
const report: string[] = [];

afterAll(() => {
  console.log(`Credential changes\n${report.join('\n')}`);
});

interface Pair {
  access: string;
  refresh: string;
}

const countOf = (statuses: number[], status: number) => statuses.filter((candidate) => candidate === status).length;
const serverErrors = (responses: ApiResponse[]) => responses.filter((response) => response.status >= 500).map((response) => response.text);

describe('a credential change wins over logins in flight', () => {
  let smtp: SmtpSink;
  let testApp: TestApp;
  let api: HttpClient;

  beforeAll(async () => {
    smtp = await SmtpSink.start();
    testApp = await startApp(
      {
        SMTP_URL: smtp.url,
        APP_URL,
        OUTBOX_RELAY_INTERVAL_MS: '200',
        // Redis records are trusted 1 s, so the suite can see what PostgreSQL says after the next recheck.
        REVOCATION_RECHECK_SECONDS: '1',
        // Logins of the stream that run once the password changed fail: the lockout is not what this suite is about.
        RATE_LIMIT_LOGIN_ACCOUNT_IP_ATTEMPTS: '100',
        RATE_LIMIT_LOGIN_ACCOUNT_ATTEMPTS: '100',
      },
      { worker: true },
    );
    api = new HttpClient(testApp.baseUrl);
  });

  afterAll(async () => {
    await testApp.close();
    await smtp.close();
  });

  async function register() {
    const user = newUser('stream');
    const response = await api.post('/api/register/', user);
    expect(response.status).toBe(201);
    return { ...user, email: user.email.toLowerCase(), id: response.body.id as number };
  }

  /**
   * A steady stream of logins with the (old) password from `workers` clients at once, until `change`
   * has answered; `change` is started once `startAfter` logins succeeded, so it lands among them.
   * Returns every pair the stream obtained and the change's answer.
   */
  async function streamAround(
    user: { username: string; password: string },
    change: () => Promise<number>,
    { workers = 6, startAfter = 8, maxAttempts = 400 } = {},
  ) {
    const pairs: Pair[] = [];
    let attempts = 0;
    let answered = false;
    const statuses: number[] = [];
    // Watches (calls go through) how many logins verified the old password but found it changed when opening their session.
    const opens = jest.spyOn(testApp.app.get(SessionsService), 'openIfCurrent');
    const worker = async () => {
      while (!answered && attempts < maxAttempts) {
        attempts += 1;
        const response = await api.post('/api/token/', { username: user.username, password: user.password });
        statuses.push(response.status);
        if (response.status === 200) pairs.push(response.body as Pair);
      }
    };
    const stream = Promise.all(Array.from({ length: workers }, worker));
    await waitFor(async () => pairs.length >= startAfter, 30_000, `${startAfter} logins of the stream`);
    const changeStatus = await change();
    answered = true;
    await stream;
    const opened = await Promise.all(opens.mock.results.map((result) => result.value as Promise<unknown>));
    opens.mockRestore();
    expect(statuses.filter((status) => status !== 200 && status !== 401)).toEqual([]);
    return { pairs, attempts, changeStatus, refusedAtInsert: opened.filter((head) => head === null).length };
  }

  /** How many of the pairs still work: access at /api/me/, refresh at /api/token/verify/ (which consumes nothing). */
  async function working(pairs: Pair[]) {
    const access = await Promise.all(pairs.map(async (pair) => (await api.get('/api/me/', pair.access)).status));
    const refresh = await Promise.all(pairs.map(async (pair) => (await api.post('/api/token/verify/', { token: pair.refresh })).status));
    expect([...access, ...refresh].filter((status) => status !== 200 && status !== 401)).toEqual([]);
    return { access: countOf(access, 200), refresh: countOf(refresh, 200) };
  }

  /** Waits until the user's Redis state record is older than the recheck interval (the next check asks PostgreSQL). */
  async function pastRecheck(userId: number) {
    const redis = testApp.app.get(RedisService).client;
    await waitFor(async () => {
      const raw = await redis.get(RedisKeys.userState(userId));
      return raw === null || (JSON.parse(raw) as { v: number }).v < Math.floor(Date.now() / 1000) - 1;
    }, 10_000, 'the Redis record to be due for a recheck');
  }

  async function expectAllDead(what: string, userId: number, { pairs, attempts, refusedAtInsert }: { pairs: Pair[]; attempts: number; refusedAtInsert: number }) {
    const now = await working(pairs);
    await pastRecheck(userId);
    const later = await working(pairs);
    const refreshed = await Promise.all(pairs.map(async (pair) => (await api.post('/api/token/refresh/', { refresh: pair.refresh })).status));
    report.push(
      `${what} amid ${attempts} old-password logins (${pairs.length} succeeded, ${refusedAtInsert} verified the old password but found it changed at the insert): ` +
        `after it answered, ${now.access} access and ${now.refresh} refresh tokens of the stream still worked; ` +
        `after the next recheck ${later.access} access and ${later.refresh} refresh; ${countOf(refreshed, 200)} refreshes succeeded`,
    );
    expect(now).toEqual({ access: 0, refresh: 0 });
    expect(later).toEqual({ access: 0, refresh: 0 });
    expect(countOf(refreshed, 200)).toBe(0);
  }

  it('a password reset: once the confirm has answered, no token of a login that checked the old password works', async () => {
    const user = await register();
    expect((await api.post('/api/password/reset/', { email: user.email })).status).toBe(202);
    const { uid, token } = linkParameters(await smtp.waitFor(user.email, RESET_SUBJECT));
    const newPassword = 'Reset-during-a-stream-61';
    const stream = await streamAround(user, async () =>
      (await api.post('/api/password/reset/confirm/', { uid, token, new_password: newPassword })).status,
    );
    expect(stream.changeStatus).toBe(200);
    await expectAllDead('a reset confirm', user.id, stream);
    expect((await api.post('/api/token/', { username: user.username, password: newPassword })).status).toBe(200);
  });

  it('a password change: every other session dies, those of logins in flight included; the caller keeps hers', async () => {
    const user = await register();
    const caller = (await api.post('/api/token/', { username: user.username, password: user.password })).body as Pair;
    const stream = await streamAround(user, async () =>
      (await api.post('/api/password/change/', { old_password: user.password, new_password: 'Changed-during-a-stream-62' }, caller.access)).status,
    );
    expect(stream.changeStatus).toBe(200);
    await expectAllDead('a password change', user.id, stream);
    expect((await api.get('/api/me/', caller.access)).status).toBe(200);
  });

  it('a deactivation: no token of a login in flight survives it', async () => {
    const user = await register();
    const accounts = testApp.app.get(AccountService);
    const stream = await streamAround(user, async () => ((await accounts.deactivate(user.id)) ? 200 : 404));
    expect(stream.changeStatus).toBe(200);
    await expectAllDead('a deactivation', user.id, stream);
  });

  it('Redis never takes an older user state over a newer one, nor an active session record over a revoked one', async () => {
    const user = await register();
    const store = testApp.app.get(RevocationStore);
    const redis = testApp.app.get(RedisService).client;
    const read = async (key: string) => JSON.parse((await redis.get(key)) ?? 'null') as Record<string, unknown> | null;
    await store.putUserState(user.id, { isActive: true, tokensValidAfter: new Date(2_000_000), authVersion: 5 });
    await store.putUserState(user.id, { isActive: true, tokensValidAfter: null, authVersion: 4 }); // a late, older write
    expect(await read(RedisKeys.userState(user.id))).toMatchObject({ a: true, c: 2000, n: 5 });
    await store.putUserState(user.id, { isActive: false, tokensValidAfter: new Date(3_000_000), authVersion: 6 });
    expect(await read(RedisKeys.userState(user.id))).toMatchObject({ a: false, c: 3000, n: 6 });

    const now = Date.now();
    const session = { id: randomUUID(), createdAt: new Date(now), lastSeenAt: new Date(now), expiresAt: new Date(now + 3_600_000), ip: null, userAgent: null };
    await store.putSession(user.id, { ...session, revokedAt: null });
    expect(await read(RedisKeys.session(user.id, session.id))).toMatchObject({ s: 'active' });
    await store.putSession(user.id, { ...session, revokedAt: new Date(now) });
    await store.putSession(user.id, { ...session, revokedAt: null }); // a late write of the login that opened it
    expect(await read(RedisKeys.session(user.id, session.id))).toMatchObject({ s: 'revoked' });
  });

  it('one reset link confirmed 8 times at once: exactly one 200', async () => {
    const user = await register();
    expect((await api.post('/api/password/reset/', { email: user.email })).status).toBe(202);
    const { uid, token } = linkParameters(await smtp.waitFor(user.email, RESET_SUBJECT));
    const passwords = Array.from({ length: 8 }, (_, index) => `Concurrent-confirm-${index}-pw`);
    const responses = await Promise.all(passwords.map((new_password) => api.post('/api/password/reset/confirm/', { uid, token, new_password })));
    const statuses = responses.map((response) => response.status);
    report.push(`one reset link confirmed 8 times at once: ${countOf(statuses, 200)} × 200, ${countOf(statuses, 400)} × 400`);
    expect(serverErrors(responses)).toEqual([]);
    expect(countOf(statuses, 200)).toBe(1);
    for (const response of responses.filter((candidate) => candidate.status === 400)) {
      expect(response.body).toEqual({ token: [INVALID_RESET_LINK] });
    }
    // The winner's password is the password now; no other.
    const winner = passwords[statuses.indexOf(200)];
    const logins = await Promise.all(passwords.map(async (password) => (await api.post('/api/token/', { username: user.username, password })).status));
    expect(logins.map((status, index) => [passwords[index] === winner, status])).toEqual(passwords.map((password) => [password === winner, password === winner ? 200 : 401]));
  });
});

describe('a Django-shaped access token (no sid) and logout', () => {
  let testApp: TestApp;
  let api: HttpClient;
  let db: DataSource;

  beforeAll(async () => {
    testApp = await startApp({});
    api = new HttpClient(testApp.baseUrl);
    db = testApp.app.get(DataSource);
  });

  afterAll(async () => {
    await testApp.close();
  });

  const djangoAccess = (userId: number, iat: number) =>
    forgeToken(
      { alg: 'HS256', typ: 'JWT' },
      { token_type: 'access', exp: iat + 300, iat, jti: randomUUID().replaceAll('-', ''), user_id: userId },
      process.env.JWT_SIGNING_KEY!,
    );

  it('dies at a 205 logout, and so does any such token issued in the same second as the cutoff', async () => {
    const user = newUser('django');
    const id = (await api.post('/api/register/', user)).body.id as number;
    const token = djangoAccess(id, Math.floor(Date.now() / 1000));
    expect((await api.get('/api/me/', token)).status).toBe(200);
    expect((await api.post('/api/logout/', {}, token)).status).toBe(205);
    const afterLogout = await api.get('/api/me/', token);
    const verified = await api.post('/api/token/verify/', { token });
    const [{ cutoff }] = await db.query('SELECT floor(extract(epoch FROM tokens_valid_after))::int AS cutoff FROM users WHERE id = $1', [id]);
    const sameSecond = cutoff === null ? 0 : (await api.get('/api/me/', djangoAccess(id, cutoff))).status;
    const nextSecond = cutoff === null ? 0 : (await api.get('/api/me/', djangoAccess(id, cutoff + 1))).status;
    report.push(`sid-less access token after a 205 logout: /api/me/ ${afterLogout.status}, verify ${verified.status}; issued in the cutoff's second ${sameSecond}, one second later ${nextSecond}`);
    expect(afterLogout.status).toBe(401);
    expect(verified.status).toBe(401);
    expect(sameSecond).toBe(401);
    expect(nextSecond).toBe(200); // control: the cutoff is not "every token"
  });
});
