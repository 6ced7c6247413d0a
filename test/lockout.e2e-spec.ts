import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { PasswordHasher } from '../src/users/password/password-hasher.service.js';
import { type ApiResponse, HttpClient, newUser } from './support/http-client.js';
import { startApp, type TestApp } from './support/test-app.js';

/**
 * The account lockout against an attacker who guesses in parallel: every point is taken before the
 * password is checked, so no burst, from one address or several, gets more guesses judged than the
 * budget. Bursts go over real HTTP to the real service (PostgreSQL, Redis); the argon2 work is counted
 * by watching the real hasher (calls go through). The figures are printed at the end.
 */
const report: string[] = [];

afterAll(() => {
  console.log(`Lockout\n${report.join('\n')}`);
});

interface Pair {
  access: string;
  refresh: string;
}

const countOf = (statuses: number[], status: number) => statuses.filter((candidate) => candidate === status).length;
const serverErrors = (responses: ApiResponse[]) => responses.filter((response) => response.status >= 500).map((response) => response.text);

describe('account lockout under parallel guessing', () => {
  const PAIR_BUDGET = 6;
  const ACCOUNT_BUDGET = 10;
  let testApp: TestApp;
  let api: HttpClient;
  let hasher: PasswordHasher;
  let verifySpy: ReturnType<typeof jest.spyOn>;
  let burnSpy: ReturnType<typeof jest.spyOn>;

  beforeAll(async () => {
    testApp = await startApp({
      TRUST_PROXY_HOPS: '1',
      RATE_LIMIT_LOGIN_ACCOUNT_IP_ATTEMPTS: String(PAIR_BUDGET),
      RATE_LIMIT_LOGIN_ACCOUNT_ATTEMPTS: String(ACCOUNT_BUDGET),
    });
    api = new HttpClient(testApp.baseUrl);
    // Counts the argon2 work actually done (verify for a known user, burn for an unknown one); the calls go through.
    hasher = testApp.app.get(PasswordHasher);
    verifySpy = jest.spyOn(hasher, 'verify');
    burnSpy = jest.spyOn(hasher, 'burn');
  });

  afterAll(async () => {
    verifySpy?.mockRestore();
    burnSpy?.mockRestore();
    await testApp.close();
  });

  const argon2Runs = () => verifySpy.mock.calls.length + burnSpy.mock.calls.length;

  async function register(address: string) {
    const user = newUser('guess');
    const response = await api.request('POST', '/api/register/', { body: user, headers: { 'x-forwarded-for': address } });
    expect(response.status).toBe(201);
    return { ...user, id: response.body.id as number };
  }

  const loginFrom = (address: string, username: string, password: string) =>
    api.request('POST', '/api/token/', { body: { username, password }, headers: { 'x-forwarded-for': address } });

  /** Fires every attempt at once; returns the statuses and how many argon2 runs they caused. */
  async function burst(attempts: Array<{ address: string; username: string; password: string }>) {
    const before = argon2Runs();
    const responses = await Promise.all(attempts.map((attempt) => loginFrom(attempt.address, attempt.username, attempt.password)));
    expect(serverErrors(responses)).toEqual([]);
    for (const response of responses.filter((candidate) => candidate.status === 429)) {
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    const statuses = responses.map((response) => response.status);
    return { statuses, responses, runs: argon2Runs() - before, judged: countOf(statuses, 401) + countOf(statuses, 200) };
  }

  it('30 parallel guesses from one address (the right password among them): the budget of (account, address) is never exceeded', async () => {
    const user = await register('198.51.100.1');
    const attempts = Array.from({ length: 30 }, (_, index) => ({
      address: '198.51.100.10',
      username: user.username,
      password: index === 17 ? user.password : `wrong-guess-${index}`,
    }));
    const { statuses, runs, judged } = await burst(attempts);
    report.push(
      `30 parallel guesses at one account from one address (29 wrong, the right one among them), budget ${PAIR_BUDGET} per account and address: ` +
        `${judged} judged (${countOf(statuses, 401)} × 401, ${countOf(statuses, 200)} × 200), ${countOf(statuses, 429)} × 429, ${runs} argon2 runs`,
    );
    expect(statuses.filter((status) => ![200, 401, 429].includes(status))).toEqual([]);
    // Failures judged never exceed the budget; a success gives its own point back, which may let one more in.
    expect(countOf(statuses, 401)).toBeLessThanOrEqual(PAIR_BUDGET);
    expect(judged).toBeGreaterThanOrEqual(PAIR_BUDGET);
    expect(judged).toBeLessThanOrEqual(PAIR_BUDGET + countOf(statuses, 200));
    expect(runs).toBe(judged);
    // A targeted lockout stays targeted: the owner, from another address, still gets in.
    expect((await loginFrom('198.51.100.11', user.username, user.password)).status).toBe(200);
  });

  it('60 parallel guesses from two addresses: the looser per-account budget caps them all', async () => {
    const user = await register('198.51.100.2');
    const attempts = Array.from({ length: 60 }, (_, index) => ({
      address: index % 2 === 0 ? '198.51.100.20' : '198.51.100.21',
      username: user.username,
      password: index === 41 ? user.password : `wrong-guess-${index}`,
    }));
    const { statuses, runs, judged } = await burst(attempts);
    report.push(
      `60 parallel guesses at one account from two addresses (59 wrong, the right one among them), budget ${ACCOUNT_BUDGET} per account: ` +
        `${judged} judged (${countOf(statuses, 401)} × 401, ${countOf(statuses, 200)} × 200), ${countOf(statuses, 429)} × 429, ${runs} argon2 runs`,
    );
    expect(countOf(statuses, 401)).toBeLessThanOrEqual(ACCOUNT_BUDGET);
    expect(judged).toBeGreaterThanOrEqual(ACCOUNT_BUDGET);
    expect(judged).toBeLessThanOrEqual(ACCOUNT_BUDGET + countOf(statuses, 200));
    expect(runs).toBe(judged);
    for (const address of ['198.51.100.20', '198.51.100.21']) {
      const fromAddress = statuses.filter((status, index) => attempts[index].address === address && status !== 429);
      expect(fromAddress.length).toBeLessThanOrEqual(PAIR_BUDGET + 1);
    }
  });

  it('an unknown identifier spends the same budget and the same argon2 work', async () => {
    const attempts = Array.from({ length: 20 }, (_, index) => ({
      address: '198.51.100.30',
      username: `Nobody-${Date.now()}@Example.com`,
      password: `wrong-guess-${index}`,
    }));
    const burnsBefore = burnSpy.mock.calls.length;
    const { statuses, runs, judged } = await burst(attempts);
    report.push(`20 parallel guesses at an unknown identifier from one address: ${judged} judged, ${countOf(statuses, 429)} × 429, ${runs} argon2 runs (burn)`);
    expect(countOf(statuses, 401)).toBe(PAIR_BUDGET);
    expect(countOf(statuses, 429)).toBe(20 - PAIR_BUDGET);
    expect(burnSpy.mock.calls.length - burnsBefore).toBe(PAIR_BUDGET);
    expect(runs).toBe(PAIR_BUDGET);
  });

  it('the budgets are per identifier as typed: a 429 on the username says nothing about the e-mail', async () => {
    const user = await register('198.51.100.3');
    const statuses: number[] = [];
    for (let index = 0; index < 2 * PAIR_BUDGET; index += 1) {
      const address = index < PAIR_BUDGET ? '198.51.100.40' : '198.51.100.41';
      statuses.push((await loginFrom(address, user.username, `wrong-guess-${index}`)).status);
    }
    // The username's account budget is spent: even the right password waits.
    const byUsername = await loginFrom('198.51.100.42', user.username, user.password);
    // The e-mail is another identifier with its own budget: if it shared the username's, a 429 here
    // would tell an attacker that this e-mail and that username are one account.
    const byEmail = await loginFrom('198.51.100.42', user.email, user.password);
    report.push(`${2 * PAIR_BUDGET} wrong guesses by username from two addresses: ${JSON.stringify(statuses)}; then the right password by username ${byUsername.status}, by e-mail ${byEmail.status}`);
    expect(countOf(statuses, 401)).toBe(ACCOUNT_BUDGET);
    expect(byUsername.status).toBe(429);
    expect(byEmail.status).toBe(200);
  });

  it('the old-password check of a password change takes its point before the hash is checked', async () => {
    const user = await register('198.51.100.4');
    const { access } = (await loginFrom('198.51.100.50', user.username, user.password)).body as Pair;
    const before = argon2Runs();
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        api.request('POST', '/api/password/change/', {
          body: { old_password: `wrong-old-${index}`, new_password: 'A-perfectly-fine-new-one-42' },
          token: access,
          headers: { 'x-forwarded-for': '198.51.100.51' },
        }),
      ),
    );
    const statuses = responses.map((response) => response.status);
    const runs = argon2Runs() - before;
    report.push(`20 parallel wrong old passwords at /api/password/change/ from one address: ${countOf(statuses, 400)} judged, ${countOf(statuses, 429)} × 429, ${runs} argon2 runs`);
    expect(serverErrors(responses)).toEqual([]);
    expect(countOf(statuses, 400)).toBe(PAIR_BUDGET);
    expect(countOf(statuses, 429)).toBe(20 - PAIR_BUDGET);
    expect(runs).toBe(PAIR_BUDGET);
  });
});
