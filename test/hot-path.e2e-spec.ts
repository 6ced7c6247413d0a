import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { LastLoginRecorder } from '../src/users/last-login.recorder.js';
import { HttpClient, newUser } from './support/http-client.js';
import { RedisProcess } from './support/redis-process.js';
import { startApp, type TestApp } from './support/test-app.js';

/**
 * The authenticated hot path does one Redis round trip and no PostgreSQL query while Redis is
 * healthy (DESIGN.md). Counted for real: Redis's own command statistics on a private server, and
 * every connection taken from the PostgreSQL pool.
 */
describe('hot path: one Redis round trip, no PostgreSQL query', () => {
  let redis: RedisProcess;
  let inspector: Redis;
  let testApp: TestApp;
  let api: HttpClient;
  let poolConnect: ReturnType<typeof jest.spyOn>;

  beforeAll(async () => {
    redis = await RedisProcess.start();
    inspector = redis.client();
    // The outbox relay is a background timer, not request work: keep it out of the counts.
    testApp = await startApp({ REDIS_URL: redis.url, OUTBOX_RELAY_INTERVAL_MS: '600000' });
    api = new HttpClient(testApp.baseUrl);
    const pool = (testApp.app.get(DataSource).driver as unknown as { master: Pool }).master;
    poolConnect = jest.spyOn(pool, 'connect');
  });

  afterAll(async () => {
    poolConnect?.mockRestore();
    await testApp?.close();
    inspector?.disconnect();
    await redis?.stop();
  });

  async function commandCounts(): Promise<Record<string, number>> {
    const info = await inspector.info('commandstats');
    return Object.fromEntries([...info.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)].map(([, name, calls]) => [name, Number(calls)]));
  }

  it('GET /api/me/ served from the cache: 1 MGET (revocation records + cache entry) per request, 0 PostgreSQL', async () => {
    const user = newUser('hot');
    expect((await api.post('/api/register/', user)).status).toBe(201);
    const { access } = (await api.post('/api/token/', { username: user.username, password: user.password })).body;
    expect((await api.get('/api/me/', access)).status).toBe(200); // fills the cache
    await testApp.app.get(LastLoginRecorder).flush(); // the login's background write, not request work

    await inspector.config('RESETSTAT');
    poolConnect.mockClear();
    const requests = 25;
    for (let index = 0; index < requests; index += 1) {
      const response = await api.get('/api/me/', access);
      expect(response.status).toBe(200);
      expect(response.body.username).toBe(user.username);
    }
    const counts = await commandCounts();
    delete counts.config; // our RESETSTAT
    delete counts.info; // our INFO
    expect(counts).toEqual({ mget: requests });
    expect(poolConnect).not.toHaveBeenCalled();
  });

  it('POST /api/token/verify/ and other authenticated routes: 1 MGET, 0 PostgreSQL for the check itself', async () => {
    const user = newUser('hot');
    expect((await api.post('/api/register/', user)).status).toBe(201);
    const { access } = (await api.post('/api/token/', { username: user.username, password: user.password })).body;
    await testApp.app.get(LastLoginRecorder).flush();
    await inspector.config('RESETSTAT');
    poolConnect.mockClear();
    for (let index = 0; index < 10; index += 1) {
      expect((await api.post('/api/token/verify/', { token: access })).status).toBe(200);
    }
    const counts = await commandCounts();
    delete counts.config;
    delete counts.info;
    expect(counts).toEqual({ mget: 10 });
    expect(poolConnect).not.toHaveBeenCalled();
  });
});
