import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { HttpClient, newUser } from './support/http-client.js';
import { RedisProcess } from './support/redis-process.js';
import { startApp, type TestApp } from './support/test-app.js';
import { sleep } from './support/wait.js';

const METRICS_TOKEN = 'metrics-e2e-token-0123456789abcdef';

type Samples = Map<string, number>;

/** Prometheus text → series (name plus sorted labels) → value. */
function parseMetrics(text: string): Samples {
  const samples: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels = [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, key, value]) => `${key}=${value}`).sort();
    samples.set(`${match[1]}{${labels.join(',')}}`, Number(match[3]));
  }
  return samples;
}

const series = (name: string, labels: Record<string, string> = {}) =>
  `${name}{${Object.entries(labels).map(([key, value]) => `${key}=${value}`).sort().join(',')}}`;

/**
 * GET /metrics on the real app (real PostgreSQL; a Redis of its own, so the fallback can be made
 * real by killing it): counters move by exactly what the flows did; the endpoint needs the token.
 */
describe('metrics', () => {
  let redis: RedisProcess;
  let testApp: TestApp;
  let api: HttpClient;

  const scrape = async (): Promise<Samples> => {
    const response = await api.request('GET', '/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return parseMetrics(response.text);
  };
  const delta = (before: Samples, after: Samples, key: string) => (after.get(key) ?? 0) - (before.get(key) ?? 0);

  beforeAll(async () => {
    redis = await RedisProcess.start();
    testApp = await startApp({
      METRICS_TOKEN,
      REDIS_URL: redis.url,
      REFRESH_REUSE_GRACE_SECONDS: '0',
      RATE_LIMIT_LOGIN_ACCOUNT_IP_ATTEMPTS: '2',
      RESPONSE_CACHE_TTL_SECONDS: '0',
    });
    api = new HttpClient(testApp.baseUrl);
  });

  afterAll(async () => {
    await testApp?.close();
    await redis?.stop();
  });

  it('401 without the token, with a wrong one, or with another scheme; never part of the OpenAPI document', async () => {
    for (const authorization of [undefined, 'Bearer wrong-token', `Bearer ${METRICS_TOKEN}x`, `Basic ${METRICS_TOKEN}`, METRICS_TOKEN]) {
      const response = await api.request('GET', '/metrics', { headers: authorization ? { authorization } : {} });
      expect([authorization, response.status]).toEqual([authorization, 401]);
      expect(response.text).not.toContain('auth_logins_total');
    }
    const schema = await api.get('/api/schema/');
    expect(schema.status).toBe(200);
    expect(Object.keys(schema.body.paths).filter((path) => path.includes('metrics'))).toEqual([]);
  });

  it('flows move the counters, the histogram and the outbox backlog by exactly what they did', async () => {
    const before = await scrape();
    const user = newUser('metrics');
    expect((await api.post('/api/register/', user)).status).toBe(201);
    const login = await api.post('/api/token/', { username: user.username, password: user.password });
    expect(login.status).toBe(200);
    expect((await api.post('/api/token/', { username: user.username, password: 'not the password' })).status).toBe(401);
    for (let i = 0; i < 3; i += 1) expect((await api.get('/api/me/', login.body.access)).status).toBe(200);
    const refreshed = await api.post('/api/token/refresh/', { refresh: login.body.refresh });
    expect(refreshed.status).toBe(200);
    await sleep(5); // past the (zero) grace window
    // The first refresh token again: reuse, the whole session is revoked.
    expect((await api.post('/api/token/refresh/', { refresh: login.body.refresh })).status).toBe(401);
    expect((await api.post('/api/token/refresh/', { refresh: 'not-a-token' })).status).toBe(401);
    const second = await api.post('/api/token/', { username: user.email, password: user.password });
    expect((await api.post('/api/logout/', {}, second.body.access)).status).toBe(205);
    // The tight login budget (2 per identifier and address) of an identifier nobody has.
    const statuses = [];
    for (let i = 0; i < 3; i += 1) statuses.push((await api.post('/api/token/', { username: `nobody-${user.username}`, password: 'guess' })).status);
    expect(statuses).toEqual([401, 401, 429]);

    const after = await scrape();
    const moved = (name: string, labels?: Record<string, string>) => delta(before, after, series(name, labels));
    expect({
      loginSuccess: moved('auth_logins_total', { result: 'success' }),
      loginFailure: moved('auth_logins_total', { result: 'failure' }),
      loginRateLimited: moved('auth_logins_total', { result: 'rate_limited' }),
      refreshSuccess: moved('auth_refresh_total', { result: 'success' }),
      refreshReuse: moved('auth_refresh_total', { result: 'reuse_detected' }),
      refreshInvalid: moved('auth_refresh_total', { result: 'invalid' }),
      revokedReuse: moved('auth_revocations_total', { reason: 'refresh_reuse' }),
      revokedLogout: moved('auth_revocations_total', { reason: 'logout' }),
      rateLimitedAccountIp: moved('auth_rate_limited_total', { scope: 'login_account_ip' }),
      meRequests: moved('http_request_duration_seconds_count', { method: 'GET', route: '/api/me', status: '200' }),
      tokenRequests429: moved('http_request_duration_seconds_count', { method: 'POST', route: '/api/token', status: '429' }),
      outboxBacklog: moved('auth_outbox_backlog'),
      redisFallbacks: moved('auth_redis_fallback_total'),
    }).toEqual({
      loginSuccess: 2,
      loginFailure: 3,
      loginRateLimited: 1,
      refreshSuccess: 1,
      refreshReuse: 1,
      refreshInvalid: 1,
      revokedReuse: 1,
      revokedLogout: 1,
      rateLimitedAccountIp: 1,
      meRequests: 3,
      tokenRequests429: 1,
      outboxBacklog: 1, // the verification e-mail, waiting for a worker (none runs here)
      redisFallbacks: 0,
    });
    // A histogram: buckets by route template and status, each request in the +Inf one.
    expect(after.get(series('http_request_duration_seconds_bucket', { method: 'GET', route: '/api/me', status: '200', le: '+Inf' }))).toBe(
      after.get(series('http_request_duration_seconds_count', { method: 'GET', route: '/api/me', status: '200' })),
    );
    // Queue depths are there for both queues (read from BullMQ on scrape).
    for (const queue of ['mail', 'maintenance']) {
      for (const state of ['waiting', 'active', 'delayed', 'failed']) {
        expect([queue, state, typeof after.get(series('auth_queue_jobs', { queue, state }))]).toEqual([queue, state, 'number']);
      }
    }
  });

  it('a revocation check that Redis cannot answer is counted as a fallback (and still answered)', async () => {
    const user = newUser('fallback');
    expect((await api.post('/api/register/', user)).status).toBe(201);
    const login = await api.post('/api/token/', { username: user.username, password: user.password });
    expect(login.status).toBe(200);
    const before = await scrape();
    await redis.stop();
    expect((await api.get('/api/me/', login.body.access)).status).toBe(200);
    expect((await api.get('/api/me/', login.body.access)).status).toBe(200);
    const after = await scrape();
    await redis.start();
    expect(delta(before, after, series('auth_redis_fallback_total'))).toBe(2);
  });
});

describe('metrics without METRICS_TOKEN', () => {
  it('/metrics is 404, with or without a bearer token', async () => {
    const testApp = await startApp({ METRICS_TOKEN: '' });
    try {
      const api = new HttpClient(testApp.baseUrl);
      expect((await api.get('/metrics')).status).toBe(404);
      expect((await api.request('GET', '/metrics', { headers: { authorization: 'Bearer anything' } })).status).toBe(404);
    } finally {
      await testApp.close();
    }
  });
});
