import { describe, it, expect, jest } from '@jest/globals';
import type { Transactions } from '../database/transactions.service.js';
import type { RequestClient } from '../common/decorators/client.decorator.js';
import { DrfException, throttled } from '../common/http/drf-errors.js';
import { readAuthConfig } from '../config/auth.config.js';
import type { OutboxService } from '../jobs/outbox.service.js';
import type { LoginResult, Metrics } from '../metrics/metrics.js';
import type { LoginAttempt, RateLimitService } from '../rate-limit/rate-limit.service.js';
import type { RevocationStore } from '../session/revocation-store.service.js';
import type { DomainEvents } from '../common/events/domain-events.js';
import type { RefreshHead, SessionsService } from '../session/sessions.service.js';
import type { PasswordHasher } from '../users/password/password-hasher.service.js';
import type { User } from '../users/user.entity.js';
import type { UsersService } from '../users/users.service.js';
import { AuthService } from './auth.service.js';
import type { IssuedAccess, TokensService } from './tokens.service.js';

const NO_ACTIVE_ACCOUNT = {
  detail: 'No active account found with the given credentials',
  code: 'no_active_account',
};

/**
 * A strict fake: only the listed members exist. Touching anything else (a collaborator method the
 * test did not expect login to use) throws, so a hidden extra call cannot pass unnoticed.
 */
function strictFake<T>(name: string, members: Record<string, unknown> = {}): T {
  return new Proxy(members, {
    get(target, property) {
      if (typeof property === 'symbol' || property === 'then') return undefined;
      if (!(property in target)) throw new Error(`${name}.${property} was not expected to be used`);
      return target[property];
    },
  }) as T;
}

type AsyncFn<Args extends unknown[], R> = (...args: Args) => Promise<R>;

const PASSWORD = 'correct horse battery staple';
const STORED_HASH = '$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$aGFzaA';
const SESSION_ID = '7d0c1a9e-5b1f-4c39-9f55-3a8b1d2e4f60';
const client: RequestClient = { ip: '203.0.113.9', userAgent: 'jest' };

function makeUser(overrides: Partial<User> = {}): User {
  return {
    id: 42,
    username: 'alice',
    email: 'alice@example.com',
    passwordHash: STORED_HASH,
    isActive: true,
    dateJoined: new Date('2024-01-01T00:00:00Z'),
    lastLogin: null,
    emailVerifiedAt: new Date('2024-01-02T00:00:00Z'),
    tokensValidAfter: null,
    authVersion: 0,
    ...overrides,
  };
}

function setup(options: { user: User | null; verify?: { ok: boolean; needsRehash: boolean }; allowUnverifiedLogin?: boolean }) {
  const head: RefreshHead = { sessionId: SESSION_ID, userId: 42, jti: 'a'.repeat(32), iat: 1_700_000_000, exp: 1_700_086_400 };
  const fns = {
    findByLoginIdentifier: jest.fn<AsyncFn<[string], User | null>>().mockResolvedValue(options.user),
    rehashPassword: jest.fn<AsyncFn<[number, string, string], boolean>>().mockResolvedValue(true),
    emit: jest.fn<DomainEvents['emit']>(),
    verify: jest
      .fn<AsyncFn<[string, string], { ok: boolean; needsRehash: boolean }>>()
      .mockResolvedValue(options.verify ?? { ok: true, needsRehash: false }),
    burn: jest.fn<AsyncFn<[string], void>>().mockResolvedValue(undefined),
    hash: jest.fn<AsyncFn<[string], string>>().mockResolvedValue('$argon2id$new-hash'),
    openIfCurrent: jest.fn<AsyncFn<[number, RequestClient, { passwordHash: string } | { issuedAt: number }], RefreshHead | null>>().mockResolvedValue(head),
    refreshTokenFor: jest.fn<(head: RefreshHead) => string>().mockReturnValue('refresh-token'),
    issueAccess: jest.fn<(userId: number, sessionId: string | undefined) => IssuedAccess>().mockImplementation((userId, sessionId) => ({
      token: 'access-token',
      claims: { token_type: 'access', exp: 1_700_000_300, iat: 1_700_000_000, jti: 'b'.repeat(32), user_id: userId, sid: sessionId },
    })),
    succeeded: jest.fn<AsyncFn<[], void>>().mockResolvedValue(undefined),
    countLogin: jest.fn<(result: LoginResult) => void>(),
    takeLoginAttempt: jest.fn<AsyncFn<[string, string | null], LoginAttempt>>(),
  };
  fns.takeLoginAttempt.mockImplementation(async () => {
    // The point is taken before this login looks anything up.
    expect(fns.findByLoginIdentifier.mock.calls.length).toBe(fns.takeLoginAttempt.mock.calls.length - 1);
    return { succeeded: fns.succeeded };
  });
  const auth = {
    ...readAuthConfig({ NODE_ENV: 'test' }),
    allowUnverifiedLogin: options.allowUnverifiedLogin ?? true,
  };
  const service = new AuthService(
    strictFake<UsersService>('users', {
      findByLoginIdentifier: fns.findByLoginIdentifier,
      rehashPassword: fns.rehashPassword,
    }),
    strictFake<PasswordHasher>('hasher', { verify: fns.verify, burn: fns.burn, hash: fns.hash }),
    strictFake<SessionsService>('sessions', { openIfCurrent: fns.openIfCurrent }),
    strictFake<RevocationStore>('revocation'),
    strictFake<TokensService>('tokens', { refreshTokenFor: fns.refreshTokenFor, issueAccess: fns.issueAccess }),
    strictFake<RateLimitService>('limits', { takeLoginAttempt: fns.takeLoginAttempt }),
    strictFake<OutboxService>('outbox'),
    strictFake<Metrics>('metrics', { login: fns.countLogin }),
    strictFake<DomainEvents>('events', { emit: fns.emit }),
    strictFake<Transactions>('transactions'),
    auth,
  );
  return { service, fns, head };
}

/** The error a promise rejects with (fails the test if it resolves). */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

async function expectNoActiveAccount(promise: Promise<unknown>): Promise<void> {
  const error = await rejectionOf(promise);
  expect(error).toBeInstanceOf(DrfException);
  expect((error as DrfException).getStatus()).toBe(401);
  expect((error as DrfException).body).toEqual(NO_ACTIVE_ACCOUNT);
}

describe('AuthService.login', () => {
  it('logs in: opens a session and returns its refresh token and an access token for it', async () => {
    const user = makeUser();
    const { service, fns, head } = setup({ user });

    await expect(service.login('alice', PASSWORD, client)).resolves.toEqual({
      refresh: 'refresh-token',
      access: 'access-token',
    });

    expect(fns.findByLoginIdentifier).toHaveBeenCalledWith('alice');
    expect(fns.verify).toHaveBeenCalledWith(STORED_HASH, PASSWORD);
    // The session opens only if the hash that was verified is still the stored one.
    expect(fns.openIfCurrent).toHaveBeenCalledTimes(1);
    expect(fns.openIfCurrent).toHaveBeenCalledWith(42, client, { passwordHash: STORED_HASH });
    expect(fns.refreshTokenFor).toHaveBeenCalledWith(head);
    expect(fns.issueAccess).toHaveBeenCalledWith(42, SESSION_ID);
    expect(fns.emit).toHaveBeenCalledWith('user.logged_in', { userId: 42, sessionId: SESSION_ID });
    // The point of the login budgets was taken first (by the identifier, from this address) and given back.
    expect(fns.takeLoginAttempt).toHaveBeenCalledWith('alice', '203.0.113.9');
    expect(fns.succeeded).toHaveBeenCalledTimes(1);
    expect(fns.burn).not.toHaveBeenCalled();
    expect(fns.rehashPassword).not.toHaveBeenCalled();
    expect(fns.hash).not.toHaveBeenCalled();
    expect(fns.countLogin.mock.calls).toEqual([['success']]);
  });

  it('the password changed (or the account was deactivated) after it was checked: no tokens, the usual answer', async () => {
    const { service, fns } = setup({ user: makeUser() });
    fns.openIfCurrent.mockResolvedValue(null);

    await expectNoActiveAccount(service.login('alice', PASSWORD, client));

    expect(fns.issueAccess).not.toHaveBeenCalled();
    expect(fns.refreshTokenFor).not.toHaveBeenCalled();
    expect(fns.succeeded).not.toHaveBeenCalled();
    expect(fns.emit).not.toHaveBeenCalled();
  });


  it('stores a new hash of the password when the stored one needs a rehash (e.g. Django pbkdf2)', async () => {
    const user = makeUser({ passwordHash: 'pbkdf2_sha256$600000$salt$hash' });
    const { service, fns } = setup({ user, verify: { ok: true, needsRehash: true } });

    await expect(service.login('alice', PASSWORD, client)).resolves.toEqual({
      refresh: 'refresh-token',
      access: 'access-token',
    });
    expect(fns.hash).toHaveBeenCalledWith(PASSWORD);
    // Only over the hash that was verified, and the session is then checked against the new one.
    expect(fns.rehashPassword).toHaveBeenCalledWith(42, 'pbkdf2_sha256$600000$salt$hash', '$argon2id$new-hash');
    expect(fns.openIfCurrent).toHaveBeenCalledWith(42, client, { passwordHash: '$argon2id$new-hash' });
  });

  it('a rehash that lost to a concurrent change: the session is checked against the verified hash (and refused)', async () => {
    const user = makeUser({ passwordHash: 'pbkdf2_sha256$600000$salt$hash' });
    const { service, fns } = setup({ user, verify: { ok: true, needsRehash: true } });
    fns.rehashPassword.mockResolvedValue(false);
    fns.openIfCurrent.mockResolvedValue(null);

    await expectNoActiveAccount(service.login('alice', PASSWORD, client));
    expect(fns.openIfCurrent).toHaveBeenCalledWith(42, client, { passwordHash: 'pbkdf2_sha256$600000$salt$hash' });
  });

  it('an unknown user: burns the same work on the password and answers no_active_account', async () => {
    const { service, fns } = setup({ user: null });

    await expectNoActiveAccount(service.login('Nobody@Example.com', PASSWORD, client));

    expect(fns.burn).toHaveBeenCalledTimes(1);
    expect(fns.burn).toHaveBeenCalledWith(PASSWORD);
    expect(fns.verify).not.toHaveBeenCalled();
    // The same point as for a known account, kept.
    expect(fns.takeLoginAttempt).toHaveBeenCalledTimes(1);
    expect(fns.succeeded).not.toHaveBeenCalled();
    expect(fns.openIfCurrent).not.toHaveBeenCalled();
    expect(fns.issueAccess).not.toHaveBeenCalled();
    expect(fns.refreshTokenFor).not.toHaveBeenCalled();
  });

  it('keys the budgets by the identifier as typed, normalised: an address in any case, a username in NFKC', async () => {
    const { service, fns } = setup({ user: null });
    await expectNoActiveAccount(service.login('Nobody@Example.com', PASSWORD, client));
    await expectNoActiveAccount(service.login('nobody@example.com', PASSWORD, client));
    await expectNoActiveAccount(service.login('ａｌｉｃｅ', PASSWORD, client));
    expect(fns.takeLoginAttempt.mock.calls.map(([identifier]) => identifier)).toEqual(['nobody@example.com', 'nobody@example.com', 'alice']);
  });

  it('a wrong password: same answer, the failure is recorded against the account, no session', async () => {
    const { service, fns } = setup({ user: makeUser(), verify: { ok: false, needsRehash: false } });

    await expectNoActiveAccount(service.login('alice', 'wrong password', client));

    expect(fns.verify).toHaveBeenCalledWith(STORED_HASH, 'wrong password');
    expect(fns.takeLoginAttempt).toHaveBeenCalledTimes(1);
    expect(fns.succeeded).not.toHaveBeenCalled(); // the point stays taken
    expect(fns.openIfCurrent).not.toHaveBeenCalled();
    expect(fns.rehashPassword).not.toHaveBeenCalled();
    expect(fns.emit).not.toHaveBeenCalled();
    expect(fns.countLogin.mock.calls).toEqual([['failure']]);
  });

  it('the username and the e-mail of one account have budgets of their own (a 429 does not link them)', async () => {
    const { service, fns } = setup({ user: makeUser(), verify: { ok: false, needsRehash: false } });
    await expectNoActiveAccount(service.login('alice', 'wrong', client));
    await expectNoActiveAccount(service.login('Alice@Example.com', 'wrong', client));
    expect(fns.takeLoginAttempt.mock.calls.map(([identifier]) => identifier)).toEqual(['alice', 'alice@example.com']);
  });

  it('a wrong password that would also need a rehash does not store anything', async () => {
    const { service, fns } = setup({ user: makeUser(), verify: { ok: false, needsRehash: true } });
    await expectNoActiveAccount(service.login('alice', 'wrong', client));
    expect(fns.hash).not.toHaveBeenCalled();
    expect(fns.rehashPassword).not.toHaveBeenCalled();
  });

  it('an inactive user with the right password: same answer, no session', async () => {
    const { service, fns } = setup({ user: makeUser({ isActive: false }) });

    await expectNoActiveAccount(service.login('alice', PASSWORD, client));

    expect(fns.verify).toHaveBeenCalledTimes(1);
    expect(fns.openIfCurrent).not.toHaveBeenCalled();
    expect(fns.issueAccess).not.toHaveBeenCalled();
  });

  it('ALLOW_UNVERIFIED_LOGIN=false: an unverified user gets the same answer and no session', async () => {
    const { service, fns } = setup({ user: makeUser({ emailVerifiedAt: null }), allowUnverifiedLogin: false });

    await expectNoActiveAccount(service.login('alice', PASSWORD, client));

    expect(fns.openIfCurrent).not.toHaveBeenCalled();
    expect(fns.issueAccess).not.toHaveBeenCalled();
    // The right password of an unverified (or inactive) account keeps its point, as a wrong one
    // does: giving it back would tell an attacker the guess was right.
    expect(fns.succeeded).not.toHaveBeenCalled();
  });

  it('ALLOW_UNVERIFIED_LOGIN=false still lets a verified user in', async () => {
    const { service, fns } = setup({ user: makeUser(), allowUnverifiedLogin: false });
    await expect(service.login('alice', PASSWORD, client)).resolves.toEqual({ refresh: 'refresh-token', access: 'access-token' });
    expect(fns.openIfCurrent).toHaveBeenCalledTimes(1);
  });

  it('ALLOW_UNVERIFIED_LOGIN=true (the default) lets an unverified user in', async () => {
    const { service, fns } = setup({ user: makeUser({ emailVerifiedAt: null }) });
    await expect(service.login('alice', PASSWORD, client)).resolves.toEqual({ refresh: 'refresh-token', access: 'access-token' });
    expect(fns.openIfCurrent).toHaveBeenCalledTimes(1);
  });

  it('a locked account: the 429 passes through, nothing is looked up and no password is checked', async () => {
    const { service, fns } = setup({ user: makeUser() });
    const locked = throttled(120);
    fns.takeLoginAttempt.mockRejectedValue(locked);

    await expect(service.login('alice', PASSWORD, client)).rejects.toBe(locked);

    expect(fns.findByLoginIdentifier).not.toHaveBeenCalled();
    expect(fns.verify).not.toHaveBeenCalled();
    expect(fns.burn).not.toHaveBeenCalled();
    expect(fns.hash).not.toHaveBeenCalled();
    expect(fns.openIfCurrent).not.toHaveBeenCalled();
    expect(fns.countLogin.mock.calls).toEqual([['rate_limited']]);
  });

  it('a locked unknown identifier: the 429 passes through and nothing is hashed', async () => {
    const { service, fns } = setup({ user: null });
    const locked = throttled(30);
    fns.takeLoginAttempt.mockRejectedValue(locked);

    const error = await rejectionOf(service.login('ghost', PASSWORD, client));
    expect(error).toBe(locked);
    expect((error as DrfException).getStatus()).toBe(429);
    expect(fns.burn).not.toHaveBeenCalled();
    expect(fns.verify).not.toHaveBeenCalled();
  });
});
