import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { HttpClient, newUser } from './support/http-client.js';
import { startApp, type TestApp } from './support/test-app.js';

/**
 * PostgreSQL connections dying under the service (restart, failover, pg_terminate_backend): the
 * process must live, and the next requests must succeed on fresh connections.
 */
describe('PostgreSQL connection loss', () => {
  let testApp: TestApp;
  let api: HttpClient;
  let db: DataSource;

  beforeAll(async () => {
    testApp = await startApp();
    api = new HttpClient(testApp.baseUrl);
    db = testApp.app.get(DataSource);
  });

  afterAll(async () => {
    await testApp.close();
  });

  it('survives the death of a checked-out connection and of every pooled one', async () => {
    const user = newUser('pgfault');
    expect((await api.post('/api/register/', user)).status).toBe(201);
    const pair = (await api.post('/api/token/', { username: user.username, password: user.password })).body;

    // A connection checked out of the pool and idle between queries (as inside a transaction).
    const held = db.createQueryRunner('master');
    await held.connect();
    const [{ pid }] = await held.query('SELECT pg_backend_pid() AS pid');
    await db.query('SELECT pg_terminate_backend($1)', [pid]);
    // pg emits 'error' on that client now; without a listener the process would die here.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await held.release().catch(() => undefined);
    expect(testApp.logs.some((line) => line.includes('connection lost'))).toBe(true);

    // Every other connection of the service's database, idle in the pool.
    await db.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
    );
    await new Promise((resolve) => setTimeout(resolve, 200));

    const statuses: number[] = [];
    for (let attempt = 0; attempt < 5; attempt += 1) {
      statuses.push((await api.post('/api/token/', { username: user.username, password: user.password })).status);
    }
    // A request may meet a connection that died while idle in the pool before the pool noticed;
    // after that the pool has fresh connections and everything succeeds.
    expect(statuses.slice(-3)).toEqual([200, 200, 200]);
    expect((await api.post('/api/token/refresh/', { refresh: pair.refresh })).status).toBe(200);
    expect((await api.get('/health/ready/')).status).toBe(200);
  });
});
