import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { RedisService } from '../src/redis/redis.service.js';
import { ResponseCache, responseCacheKey } from '../src/cache/response-cache.service.js';
import { UsersService } from '../src/users/users.service.js';
import { decodePayload, forgeToken } from './support/jwt-forge.js';
import { HttpClient, newUser } from './support/http-client.js';
import { startApp, type TestApp } from './support/test-app.js';

const SIGNING_KEY = () => process.env.JWT_SIGNING_KEY!;
const NO_ACCOUNT = { detail: 'No active account found with the given credentials', code: 'no_active_account' };

describe('auth contract (Django simplejwt compatible), end to end', () => {
  let testApp: TestApp;
  let api: HttpClient;
  let db: DataSource;
  /** Every response text of this suite, checked at the end for password hashes. */
  const responses: string[] = [];

  beforeAll(async () => {
    // Grace 0: in this suite a rotated refresh token must fail at once (the grace window has its own suite).
    testApp = await startApp({ REFRESH_REUSE_GRACE_SECONDS: '0' });
    api = new HttpClient(testApp.baseUrl);
    const original = api.request.bind(api);
    api.request = async (...args: Parameters<HttpClient['request']>) => {
      const response = await original(...args);
      responses.push(response.text);
      return response;
    };
    db = testApp.app.get(DataSource);
  });

  afterAll(async () => {
    await testApp.close();
  });

  async function register(user = newUser()) {
    const response = await api.post('/api/register/', user);
    expect(response.status).toBe(201);
    return { ...user, id: response.body.id as number };
  }

  async function login(username: string, password: string) {
    const response = await api.post('/api/token/', { username, password });
    expect(response.status).toBe(200);
    return response.body as { access: string; refresh: string };
  }

  describe('the whole flow', () => {
    it('register → login by username and by e-mail → me → refresh → verify → logout → blacklist', async () => {
      const user = newUser('flow');
      const registered = await api.post('/api/register/', user);
      expect(registered.status).toBe(201);
      expect(registered.body).toEqual({ id: expect.any(Number), username: user.username, email: user.email.toLowerCase() });

      const byUsername = await login(user.username, user.password);
      expect(Object.keys(byUsername).sort()).toEqual(['access', 'refresh']);
      const claims = decodePayload(byUsername.access);
      expect(claims).toMatchObject({ token_type: 'access', user_id: registered.body.id });
      expect(claims.jti).toMatch(/^[0-9a-f]{32}$/);
      expect(claims.sid).toMatch(/^[0-9a-f-]{36}$/);
      expect(claims.exp - claims.iat).toBe(300);
      expect(decodePayload(byUsername.refresh)).toMatchObject({ token_type: 'refresh', sid: claims.sid });
      expect(decodePayload(byUsername.refresh).exp - decodePayload(byUsername.refresh).iat).toBe(86_400);

      const byEmail = await login(user.email.toUpperCase(), user.password);
      expect(decodePayload(byEmail.access).sid).not.toBe(claims.sid); // one session per login

      const me = await api.get('/api/me/', byUsername.access);
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({ id: registered.body.id, username: user.username, email: user.email.toLowerCase(), is_active: true });

      const refreshed = await api.post('/api/token/refresh/', { refresh: byUsername.refresh });
      expect(refreshed.status).toBe(200);
      expect(Object.keys(refreshed.body).sort()).toEqual(['access', 'refresh']);
      expect(refreshed.body.refresh).not.toBe(byUsername.refresh);
      // Rotation: the old refresh token is consumed (and reusing it revokes the session — RFC 9700).
      const reused = await api.post('/api/token/refresh/', { refresh: byUsername.refresh });
      expect(reused.status).toBe(401);
      expect(reused.body.code).toBe('token_not_valid');

      const fresh = await login(user.username, user.password);
      expect((await api.post('/api/token/verify/', { token: fresh.access })).body).toEqual({});
      expect((await api.post('/api/token/verify/', { token: fresh.refresh })).status).toBe(200);

      const logout = await api.post('/api/logout/', {}, fresh.access);
      expect(logout.status).toBe(205);
      expect(logout.text).toBe('');
      const afterLogout = await api.get('/api/me/', fresh.access);
      expect(afterLogout.status).toBe(401);
      expect(afterLogout.body.code).toBe('token_not_valid');
      expect((await api.post('/api/token/refresh/', { refresh: fresh.refresh })).status).toBe(401);
      expect((await api.post('/api/token/verify/', { token: fresh.access })).status).toBe(401);

      const other = await login(user.username, user.password);
      const blacklisted = await api.post('/api/token/blacklist/', { refresh: other.refresh });
      expect(blacklisted.status).toBe(200);
      expect(blacklisted.body).toEqual({});
      const refreshBlacklisted = await api.post('/api/token/refresh/', { refresh: other.refresh });
      expect(refreshBlacklisted.status).toBe(401);
      expect(refreshBlacklisted.body).toEqual({ detail: 'Token is blacklisted', code: 'token_not_valid' });
      expect((await api.post('/api/token/blacklist/', { refresh: other.refresh })).status).toBe(401);
      // Beyond simplejwt: blacklisting a refresh token ends its session, access token included.
      expect((await api.get('/api/me/', other.access)).status).toBe(401);
      // The login by e-mail is another session and is unaffected.
      expect((await api.get('/api/me/', byEmail.access)).status).toBe(200);
    });

    it('logout with the refresh token of another of my sessions ends that one too', async () => {
      const user = await register();
      const first = await login(user.username, user.password);
      const second = await login(user.username, user.password);
      expect((await api.post('/api/logout/', { refresh: second.refresh }, first.access)).status).toBe(205);
      expect((await api.get('/api/me/', first.access)).status).toBe(401);
      expect((await api.get('/api/me/', second.access)).status).toBe(401);
      expect((await api.post('/api/token/refresh/', { refresh: second.refresh })).status).toBe(401);
    });

    it('records last_login without delaying the login answer', async () => {
      const user = await register();
      await login(user.username, user.password);
      let lastLogin: string | null = null;
      for (let attempt = 0; attempt < 50 && !lastLogin; attempt += 1) {
        const [row] = await db.query('SELECT last_login FROM users WHERE id = $1', [user.id]);
        lastLogin = row.last_login;
        if (!lastLogin) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(lastLogin).not.toBeNull();
    });
  });

  describe('login errors', () => {
    it('answers a wrong password and an unknown user with the same body', async () => {
      const user = await register();
      const wrong = await api.post('/api/token/', { username: user.username, password: 'not-the-password-1' });
      const unknown = await api.post('/api/token/', { username: 'nobody-at-all', password: 'not-the-password-1' });
      const unknownEmail = await api.post('/api/token/', { username: 'nobody@example.com', password: 'x' });
      for (const response of [wrong, unknown, unknownEmail]) {
        expect(response.status).toBe(401);
        expect(response.body).toEqual(NO_ACCOUNT);
      }
      expect(wrong.text).toBe(unknown.text);
    });

    it('refuses an inactive account with the same body', async () => {
      const user = await register();
      await db.query('UPDATE users SET is_active = false WHERE id = $1', [user.id]);
      const response = await api.post('/api/token/', { username: user.username, password: user.password });
      expect(response.status).toBe(401);
      expect(response.body).toEqual(NO_ACCOUNT);
    });

    it('accepts form-encoded credentials as Django REST framework does', async () => {
      const user = await register();
      const response = await api.request('POST', '/api/token/', {
        rawBody: new URLSearchParams({ username: user.username, password: user.password }).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(response.status).toBe(200);
      expect(typeof response.body.access).toBe('string');
    });
  });

  describe('registration validation (nothing is written on bad input)', () => {
    async function expectRejected(body: unknown, errors: Record<string, string[]>) {
      const response = await api.post('/api/register/', body);
      expect(response.status).toBe(400);
      expect(response.body).toEqual(errors);
      const username = (body as { username?: unknown })?.username;
      if (typeof username === 'string') {
        const [{ count }] = await db.query('SELECT count(*)::int AS count FROM users WHERE username = $1', [username.trim()]);
        expect(count).toBe(0);
      }
    }

    it('names every missing field', async () => {
      await expectRejected({}, {
        username: ['This field is required.'],
        email: ['This field is required.'],
        password: ['This field is required.'],
      });
    });

    it.each([
      ['too short', 'Ab1!xyz', 'This password is too short. It must contain at least 8 characters.'],
      ['entirely numeric', '90372618451', 'This password is entirely numeric.'],
      ['common', 'password123', 'This password is too common.'],
    ])('rejects a password that is %s', async (_case, password, message) => {
      const user = newUser();
      await expectRejected({ ...user, password }, { password: [message] });
    });

    it('rejects a password too similar to the username or the e-mail', async () => {
      const user = newUser('similar');
      await expectRejected({ ...user, password: `${user.username}1` }, { password: ['The password is too similar to the username.'] });
      const other = { username: 'qz', email: 'marmaduke.fotheringham@example.com', password: 'fotheringham' };
      await expectRejected(other, { password: ['The password is too similar to the email address.'] });
    });

    it('reports every password problem at once, in Django order', async () => {
      const user = newUser();
      await expectRejected({ ...user, password: '1234567' }, {
        password: [
          'This password is too short. It must contain at least 8 characters.',
          'This password is too common.',
          'This password is entirely numeric.',
        ],
      });
    });

    it('checks the username format and length, and the e-mail format', async () => {
      const user = newUser();
      await expectRejected({ ...user, username: 'has space' }, {
        username: ['Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.'],
      });
      await expectRejected({ ...user, username: 'u'.repeat(151) }, { username: ['Ensure this field has no more than 150 characters.'] });
      await expectRejected({ ...user, email: 'not-an-address' }, { email: ['Enter a valid email address.'] });
      await expectRejected({ ...user, email: `${'e'.repeat(250)}@x.io` }, { email: ['Ensure this field has no more than 254 characters.'] });
    });

    it('rejects wrong types, nulls and blanks by field', async () => {
      const user = newUser();
      await expectRejected({ ...user, username: ['list'] }, { username: ['Not a valid string.'] });
      await expectRejected({ ...user, email: { nested: true } }, { email: ['Not a valid string.'] });
      await expectRejected({ ...user, password: true }, { password: ['Not a valid string.'] });
      await expectRejected({ ...user, username: null }, { username: ['This field may not be null.'] });
      await expectRejected({ ...user, username: '   ' }, { username: ['This field may not be blank.'] });
    });

    it('rejects duplicates of username and (case-insensitive) e-mail', async () => {
      const user = await register();
      const again = await api.post('/api/register/', { ...newUser(), username: user.username });
      expect(again.status).toBe(400);
      expect(again.body).toEqual({ username: ['A user with that username already exists.'] });
      const sameEmail = await api.post('/api/register/', { ...newUser(), email: user.email.toUpperCase() });
      expect(sameEmail.status).toBe(400);
      expect(sameEmail.body).toEqual({ email: ['A user with that email address already exists.'] });
    });

    it('lets only one of two concurrent identical registrations through', async () => {
      const user = newUser('race');
      const results = await Promise.all([api.post('/api/register/', user), api.post('/api/register/', user)]);
      expect(results.map((result: { status: number }) => result.status).sort()).toEqual([201, 400]);
    });

    it('strips unknown fields instead of binding them', async () => {
      const user = newUser();
      const response = await api.post('/api/register/', { ...user, is_active: false, id: 999_999, is_staff: true });
      expect(response.status).toBe(201);
      expect(response.body.id).not.toBe(999_999);
      const [row] = await db.query('SELECT is_active FROM users WHERE id = $1', [response.body.id]);
      expect(row.is_active).toBe(true);
    });

    it('answers malformed, non-object, wrongly typed and oversized bodies with a 4xx naming the problem', async () => {
      const malformed = await api.request('POST', '/api/register/', { rawBody: '{"username": ', headers: { 'content-type': 'application/json' } });
      expect(malformed.status).toBe(400);
      expect(malformed.body.detail).toMatch(/JSON/);
      const list = await api.post('/api/register/', [newUser()]);
      expect(list.status).toBe(400);
      expect(list.body).toEqual({ non_field_errors: ['Invalid data. Expected a dictionary, but got list.'] });
      const huge = await api.post('/api/register/', { ...newUser(), username: 'x'.repeat(64 * 1024) });
      expect(huge.status).toBe(413);
      expect(huge.body).toEqual({ detail: 'Request body is too large.' });
      const tooLongPassword = await api.post('/api/token/', { username: 'someone', password: 'p'.repeat(1025) });
      expect(tooLongPassword.status).toBe(400);
      expect(tooLongPassword.body).toEqual({ password: ['Ensure this field has no more than 1024 characters.'] });
    });
  });

  describe('the guard rejects bad tokens', () => {
    let user: Awaited<ReturnType<typeof register>>;
    let pair: { access: string; refresh: string };

    beforeAll(async () => {
      user = await register();
      pair = await login(user.username, user.password);
    });

    const expectRejectedBearer = async (token: string, message = 'Token is invalid or expired') => {
      const response = await api.get('/api/me/', token);
      expect(response.status).toBe(401);
      expect(response.body).toEqual({
        detail: 'Given token not valid for any token type',
        code: 'token_not_valid',
        messages: [{ token_class: 'AccessToken', token_type: 'access', message }],
      });
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="api"');
    };

    it('accepts the genuine token (control)', async () => {
      expect((await api.get('/api/me/', pair.access)).status).toBe(200);
    });

    it('rejects alg "none"', async () => {
      const claims = decodePayload(pair.access);
      await expectRejectedBearer(forgeToken({ alg: 'none', typ: 'JWT' }, claims));
    });

    it('rejects a tampered signature and a tampered payload', async () => {
      const [header, payload, signature] = pair.access.split('.');
      const flipped = `${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`;
      await expectRejectedBearer(`${header}.${payload}.${flipped}`);
      const claims = { ...decodePayload(pair.access), user_id: user.id + 1 };
      await expectRejectedBearer(`${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`);
    });

    it('rejects another algorithm than the configured one, even with the right key', async () => {
      await expectRejectedBearer(forgeToken({ alg: 'HS512', typ: 'JWT' }, decodePayload(pair.access), SIGNING_KEY()));
    });

    it('rejects an expired token', async () => {
      const now = Math.floor(Date.now() / 1000);
      const expired = { ...decodePayload(pair.access), iat: now - 600, exp: now - 300 };
      await expectRejectedBearer(forgeToken({ alg: 'HS256', typ: 'JWT' }, expired, SIGNING_KEY()));
    });

    it('accepts a well-formed token signed with the key (the forge is right)', async () => {
      const now = Math.floor(Date.now() / 1000);
      const valid = { ...decodePayload(pair.access), iat: now, exp: now + 60 };
      expect((await api.get('/api/me/', forgeToken({ alg: 'HS256', typ: 'JWT' }, valid, SIGNING_KEY()))).status).toBe(200);
    });

    it('rejects a refresh token as a bearer token, and an access token at the refresh endpoint', async () => {
      await expectRejectedBearer(pair.refresh, 'Token has wrong type');
      const response = await api.post('/api/token/refresh/', { refresh: pair.access });
      expect(response.status).toBe(401);
      expect(response.body).toEqual({ detail: 'Token has wrong type', code: 'token_not_valid' });
    });

    it('answers token views with simplejwt errors', async () => {
      const garbage = await api.post('/api/token/verify/', { token: 'not.a.jwt' });
      expect(garbage.status).toBe(401);
      expect(garbage.body).toEqual({ detail: 'Token is invalid or expired', code: 'token_not_valid' });
      const missing = await api.post('/api/token/refresh/', {});
      expect(missing.status).toBe(400);
      expect(missing.body).toEqual({ refresh: ['This field is required.'] });
    });

    it('says credentials were not provided when there is no bearer token', async () => {
      const none = await api.get('/api/me/');
      expect(none.status).toBe(401);
      expect(none.body).toEqual({ detail: 'Authentication credentials were not provided.' });
      const basic = await api.request('GET', '/api/me/', { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
      expect(basic.status).toBe(401);
    });
  });

  describe('every non-public route answers 401 without a token', () => {
    const PUBLIC = new Set([
      'POST /api/register/',
      'POST /api/token/',
      'POST /api/token/refresh/',
      'POST /api/token/verify/',
      'POST /api/token/blacklist/',
      'GET /health/live/',
      'GET /health/ready/',
      'POST /api/password/reset/',
      'POST /api/password/reset/confirm/',
      'POST /api/email/verify/',
      'POST /api/email/verify/resend/',
    ]);

    it('covers every operation of the OpenAPI document', async () => {
      const schema = await api.get('/api/schema/');
      expect(schema.status).toBe(200);
      const operations = Object.entries(schema.body.paths as Record<string, Record<string, { security?: unknown[] }>>).flatMap(([path, item]) =>
        Object.entries(item).map(([method, operation]) => ({ method: method.toUpperCase(), path, security: operation.security })),
      );
      expect(operations.length).toBeGreaterThanOrEqual(9);
      let protectedCount = 0;
      for (const { method, path, security } of operations) {
        // The document says what the guard does: `security: []` exactly on the public operations.
        expect([`${method} ${path}`, security]).toEqual([`${method} ${path}`, PUBLIC.has(`${method} ${path}`) ? [] : [{ bearer: [] }]]);
        const concretePath = path.replace(/\{[^}]+\}/g, '00000000-0000-4000-8000-000000000000');
        const response = await api.request(method, concretePath, method === 'GET' || method === 'DELETE' ? {} : { body: {} });
        if (PUBLIC.has(`${method} ${path}`)) {
          expect([`${method} ${path}`, response.status]).not.toEqual([`${method} ${path}`, 401]);
        } else {
          protectedCount += 1;
          expect([`${method} ${path}`, response.status]).toEqual([`${method} ${path}`, 401]);
        }
      }
      expect(protectedCount).toBeGreaterThanOrEqual(2);
    });
  });

  describe('per-user response cache of GET /api/me/', () => {
    it('never serves one user the response of another', async () => {
      const alice = await register(newUser('alice'));
      const bob = await register(newUser('bob'));
      const aliceTokens = await login(alice.username, alice.password);
      const bobTokens = await login(bob.username, bob.password);
      for (let round = 0; round < 3; round += 1) {
        expect((await api.get('/api/me/', aliceTokens.access)).body.username).toBe(alice.username);
        expect((await api.get('/api/me/', bobTokens.access)).body.username).toBe(bob.username);
      }
      // Cached under a key of the user, with the configured TTL (60 s by default), in Redis — or, in
      // the embedded run (npm run test:e2e:embedded), in this process's memory: there is no Redis client.
      if (process.env.E2E_EMBEDDED === 'true') {
        expect(() => testApp.app.get(RedisService, { strict: false })).toThrow();
        const cache = testApp.app.get(ResponseCache);
        expect(cache.decode(await cache.read(alice.id, '/api/me'))).toMatchObject({ id: alice.id, username: alice.username });
        return;
      }
      const redis = testApp.app.get(RedisService).client;
      const ttl = await redis.pttl(responseCacheKey(alice.id, '/api/me'));
      expect(ttl).toBeGreaterThan(50_000);
      expect(ttl).toBeLessThanOrEqual(60_000);
    });

    it('drops the cached profile when the user changes (here: the e-mail is confirmed)', async () => {
      const user = await register(newUser('cached'));
      const tokens = await login(user.username, user.password);
      expect((await api.get('/api/me/', tokens.access)).body.email_verified).toBe(false);
      await db.query('UPDATE users SET email_verified_at = now() WHERE id = $1', [user.id]);
      // Without invalidation the cache still answers the old profile.
      expect((await api.get('/api/me/', tokens.access)).body.email_verified).toBe(false);
      const [row] = await db.query('SELECT id, username, email FROM users WHERE id = $1', [user.id]);
      await testApp.app.get(UsersService).invalidate(row);
      expect((await api.get('/api/me/', tokens.access)).body.email_verified).toBe(true);
    });
  });

  describe('secrets stay secret', () => {
    it('never puts a password hash, a password or a token in a response body or a log line', async () => {
      const user = await register(newUser('secret'));
      const pair = await login(user.username, user.password);
      await api.get('/api/me/', pair.access);
      await api.post('/api/token/', { username: user.username, password: 'wrong-password-123' });
      await api.post('/api/token/refresh/', { refresh: pair.refresh });
      const [{ password: hash }] = await db.query('SELECT password FROM users WHERE id = $1', [user.id]);
      expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,/);
      const everything = responses.join('\n');
      expect(everything).not.toContain(hash);
      expect(everything).not.toContain('$argon2');
      expect(everything).not.toContain(user.password);
      const logs = testApp.logs.join('\n');
      expect(logs).not.toContain(hash);
      expect(logs).not.toContain(user.password);
      expect(logs).not.toContain(pair.access);
      expect(logs).not.toContain(pair.refresh);
    });
  });

  describe('health', () => {
    it('reports liveness and readiness of the primary and Redis', async () => {
      expect((await api.get('/health/live/')).body).toEqual({ status: 'ok' });
      const ready = await api.get('/health/ready/');
      expect(ready.status).toBe(200);
      expect(ready.body.details.database_primary.status).toBe('up');
      // The embedded run has no Redis to probe (its Redis roles run in process).
      if (process.env.E2E_EMBEDDED === 'true') expect(ready.body.details.redis).toBeUndefined();
      else expect(ready.body.details.redis.status).toBe('up');
    });
  });
});
