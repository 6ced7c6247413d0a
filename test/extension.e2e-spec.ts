import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable, Module } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { DataSource } from 'typeorm';
import { HttpClient, newUser } from './support/http-client.js';
import { TEST_KEY_HEADER, TestKeyModule } from './support/header-key.strategy.js';
import { startApp, type TestApp } from './support/test-app.js';
import { waitFor } from './support/wait.js';

/**
 * The two seams a feature plugs into without editing what is there: a second credential strategy
 * (test/support/header-key.strategy.ts, one module) and a domain-event listener — here one that
 * fails, which must never fail the request that caused the event.
 */

/** Listeners of `user.logged_in` that fail both ways a listener can (a throw, a rejection), not even logging it themselves. */
@Injectable()
class FailingListeners {
  calls = 0;

  @OnEvent('user.logged_in', { suppressErrors: false })
  throwsAtOnce(): void {
    this.calls += 1;
    throw new Error('listener failed synchronously');
  }

  @OnEvent('user.logged_in', { suppressErrors: false })
  async rejectsLater(): Promise<void> {
    this.calls += 1;
    await Promise.resolve();
    throw new Error('listener failed asynchronously');
  }
}

@Module({ providers: [FailingListeners] })
class FailingListenersModule {}

describe('extension seams', () => {
  let testApp: TestApp;
  let api: HttpClient;

  beforeAll(async () => {
    testApp = await startApp({}, { imports: [TestKeyModule, FailingListenersModule] });
    api = new HttpClient(testApp.baseUrl);
  });

  afterAll(async () => {
    await testApp?.close();
  });

  async function loggedIn() {
    const user = newUser('ext');
    const registered = await api.post('/api/register/', user);
    expect(registered.status).toBe(201);
    const login = await api.post('/api/token/', { username: user.username, password: user.password });
    expect(login.status).toBe(200);
    return { id: registered.body.id as number, access: login.body.access as string };
  }

  const whoami = (headers: Record<string, string>) => api.request('GET', '/test/whoami/', { headers });

  describe('a second credential strategy (one module: a header key)', () => {
    it('each credential alone authenticates as its own kind; none at all is "not provided"', async () => {
      const { id, access } = await loggedIn();
      expect((await whoami({ authorization: `Bearer ${access}` })).body).toEqual({ kind: 'session', userId: id });
      expect((await whoami({ [TEST_KEY_HEADER]: `${id}.good` })).body).toEqual({ kind: 'test-key', userId: id });
      const none = await whoami({});
      expect(none.status).toBe(401);
      expect(none.body).toEqual({ detail: 'Authentication credentials were not provided.' });
    });

    it('a presented credential that is invalid is 401, whatever else comes along', async () => {
      const { id, access } = await loggedIn();
      const badBearer = await whoami({ authorization: 'Bearer not-a-token', [TEST_KEY_HEADER]: `${id}.good` });
      expect(badBearer.status).toBe(401);
      expect(badBearer.body).toMatchObject({ code: 'token_not_valid' });
      const badKey = await whoami({ authorization: `Bearer ${access}`, [TEST_KEY_HEADER]: `${id}.bad` });
      expect(badKey.status).toBe(401);
      expect(badKey.body).toEqual({ detail: 'Invalid key.', code: 'invalid_key' });
      // A revoked token with a valid key: 401 too (the same answer as a bad one).
      expect((await api.post('/api/logout/', {}, access)).status).toBe(205);
      const revoked = await whoami({ authorization: `Bearer ${access}`, [TEST_KEY_HEADER]: `${id}.good` });
      expect(revoked.status).toBe(401);
      expect(revoked.body).toMatchObject({ code: 'token_not_valid' });
    });

    it('a route accepts the kinds it names: a valid key on a session-only route is 403', async () => {
      const { id, access } = await loggedIn();
      const forbidden = await api.request('GET', '/api/me/', { headers: { [TEST_KEY_HEADER]: `${id}.good` } });
      expect(forbidden.status).toBe(403);
      expect(forbidden.body).toEqual({ detail: 'You do not have permission to perform this action.' });
      // With both, the session principal is the one the route takes.
      const both = await api.request('GET', '/api/me/', { headers: { authorization: `Bearer ${access}`, [TEST_KEY_HEADER]: `${id}.good` } });
      expect(both.status).toBe(200);
      expect(both.body.id).toBe(id);
    });
  });

  describe('domain events', () => {
    it("a listener's failure never fails the request, nor the other listeners (last_login is still written)", async () => {
      const listeners = testApp.app.get(FailingListeners);
      const before = listeners.calls;
      const { id } = await loggedIn();
      await waitFor(async () => listeners.calls >= before + 2);
      const db = testApp.app.get(DataSource);
      await waitFor(async () => (await db.query('SELECT last_login FROM users WHERE id = $1', [id]))[0].last_login !== null);
      // Both failing listeners are reported, the one that threw and the one whose promise rejected.
      for (const how of [/failed: listener failed synchronously/, /failed: listener failed asynchronously/]) {
        await waitFor(async () => testApp.logs.some((line) => line.includes('a listener of user.logged_in') && how.test(line)));
      }
    });
  });
});
