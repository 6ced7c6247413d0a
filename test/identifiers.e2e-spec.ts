import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CACHE_MANAGER } from '@nestjs/cache-manager';
import type { Cache } from 'cache-manager';
import { RedisKeys } from '../src/redis/redis-keys.js';
import { decodePayload } from './support/jwt-forge.js';
import { type ApiResponse, HttpClient } from './support/http-client.js';
import { startApp, type TestApp } from './support/test-app.js';

/**
 * One identifier, one account: no string logs in to two accounts, whatever order or concurrency the
 * registrations come in, and usernames are NFKC-normalised as Django does. The figures are printed at
 * the end.
 */
const report: string[] = [];

afterAll(() => {
  console.log(`Identifiers\n${report.join('\n')}`);
});

const serverErrors = (responses: ApiResponse[]) => responses.filter((response) => response.status >= 500).map((response) => response.text);

describe('one identifier, one account', () => {
  let testApp: TestApp;
  let api: HttpClient;

  beforeAll(async () => {
    testApp = await startApp({});
    api = new HttpClient(testApp.baseUrl);
  });

  afterAll(async () => {
    await testApp.close();
  });

  const unique = () => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  const toFullWidth = (text: string) => text.replace(/[!-~]/g, (char) => String.fromCharCode(char.charCodeAt(0) + 0xfee0));
  const loginAs = async (username: string, password: string) => {
    const response = await api.post('/api/token/', { username, password });
    return { status: response.status, userId: response.status === 200 ? (decodePayload(response.body.access).user_id as number) : null };
  };

  it("a username equal to another account's e-mail, or the reverse, is refused and names the field", async () => {
    const id = unique();
    const carol = { username: `carol${id}`, email: `carol${id}@example.com`, password: 'Carols-own-password-1' };
    const carolId = (await api.post('/api/register/', carol)).body.id as number;
    const squatter = await api.post('/api/register/', { username: carol.email.toUpperCase(), email: `sq${id}@example.com`, password: 'Squatters-password-2' });
    const atUser = { username: `at${id}@example.org`, email: `other${id}@example.com`, password: 'At-user-password-4' };
    expect((await api.post('/api/register/', atUser)).status).toBe(201);
    const emailSquat = await api.post('/api/register/', { username: `es${id}`, email: atUser.username.toUpperCase(), password: 'Email-squat-password-5' });
    report.push(`username = another's e-mail: ${squatter.status} ${squatter.text}; e-mail = another's username: ${emailSquat.status} ${emailSquat.text}`);
    expect(squatter.status).toBe(400);
    expect(Object.keys(squatter.body)).toEqual(['username']);
    expect(emailSquat.status).toBe(400);
    expect(Object.keys(emailSquat.body)).toEqual(['email']);
    // Carol's e-mail logs in to Carol, in any case, and to nobody else.
    expect(await loginAs(carol.email.toUpperCase(), carol.password)).toEqual({ status: 200, userId: carolId });
    expect((await loginAs(carol.email, 'Squatters-password-2')).status).toBe(401);
  });

  it('a username may equal its own e-mail', async () => {
    const address = `self${unique()}@example.com`;
    const response = await api.post('/api/register/', { username: address, email: address.toUpperCase(), password: 'Self-named-password-6' });
    expect(response.status).toBe(201);
    expect(await loginAs(address.toUpperCase(), 'Self-named-password-6')).toEqual({ status: 200, userId: response.body.id });
  });

  it('usernames are NFKC-normalised: full-width and combining-mark twins are the same name', async () => {
    const id = unique();
    const base = { username: `twin${id}`, email: `twin${id}@example.com`, password: 'Twin-password-7-x' };
    const created = await api.post('/api/register/', base);
    expect(created.status).toBe(201);
    const fullWidth = await api.post('/api/register/', { username: toFullWidth(base.username), email: `fw${id}@example.com`, password: 'Other-password-8-x' });
    const composed = await api.post('/api/register/', { username: `zo\u00eb${id}`, email: `zc${id}@example.com`, password: 'Other-password-9-x' });
    const decomposed = await api.post('/api/register/', { username: `zoe\u0308${id}`, email: `zd${id}@example.com`, password: 'Other-password-10-x' });
    report.push(`NFKC twins: full-width ${fullWidth.status}, composed ${composed.status}, combining mark ${decomposed.status}`);
    expect(fullWidth.status).toBe(400);
    expect(fullWidth.body).toEqual({ username: ['A user with that username already exists.'] });
    expect(composed.status).toBe(201);
    expect(decomposed.status).toBe(400);
    expect(Object.keys(decomposed.body)).toEqual(['username']);
    // The full-width spelling logs in to the account of the name it normalises to.
    expect(await loginAs(toFullWidth(base.username), base.password)).toEqual({ status: 200, userId: created.body.id });
  });

  it('concurrent registrations of a colliding pair: exactly one wins, the other gets 400 naming the field', async () => {
    const rounds = 8;
    const outcomes: string[] = [];
    let bothWon = 0;
    for (let round = 0; round < rounds; round += 1) {
      const id = unique();
      const contested = `contested${id}@example.com`;
      const byUsername = { username: contested, email: `a${id}@example.com`, password: 'Username-side-pw-11' };
      const byEmail = { username: `b${id}`, email: contested, password: 'Email-side-pw-12' };
      const [first, second] = await Promise.all([api.post('/api/register/', byUsername), api.post('/api/register/', byEmail)]);
      outcomes.push(`${first.status}/${second.status}`);
      expect(serverErrors([first, second])).toEqual([]);
      if (first.status === 201 && second.status === 201) {
        bothWon += 1;
        continue;
      }
      expect([first.status, second.status].sort()).toEqual([201, 400]);
      const [loser, field] = first.status === 400 ? [first, 'username'] : [second, 'email'];
      expect(Object.keys(loser.body)).toEqual([field]);
      // The contested string reaches the winner only, through the lookup cache too (second login).
      const [winner, password] = first.status === 201 ? [first, byUsername.password] : [second, byEmail.password];
      for (let attempt = 0; attempt < 2; attempt += 1) {
        expect(await loginAs(contested.toUpperCase(), password)).toEqual({ status: 200, userId: winner.body.id });
      }
      // Read through the cache the app uses (its stored format is cache-manager's business).
      const cached = await testApp.app.get<Cache>(CACHE_MANAGER).get<number>(RedisKeys.userLookup(contested));
      expect(cached ?? null).toBe(winner.body.id);
    }
    report.push(`${rounds} rounds of two concurrent registrations of a colliding pair: ${outcomes.join(', ')} (both won in ${bothWon})`);
    expect(bothWon).toBe(0);
  });
});
