import { describe, it, expect, jest } from '@jest/globals';
import type { DataSource } from 'typeorm';
import type { RequestClient } from '../common/decorators/client.decorator.js';
import { DrfException, throttled } from '../common/http/drf-errors.js';
import { readMailConfig } from '../config/mail.config.js';
import type { OutboxService } from '../jobs/outbox.service.js';
import type { RateLimitService } from '../rate-limit/rate-limit.service.js';
import type { RevocationStore, UserSnapshot } from '../session/revocation-store.service.js';
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
    ...overrides,
  };
}

function setup(options: { user: User | null; verify?: { ok: boolean; needsRehash: boolean }; allowUnverifiedLogin?: boolean; failures?: number }) {
  const head: RefreshHead = { sessionId: SESSION_ID, userId: 42, jti: 'a'.repeat(32), iat: 1_700_000_000, exp: 1_700_086_400 };
  const fns = {
    findByLoginIdentifier: jest.fn<AsyncFn<[string], User | null>>().mockResolvedValue(options.user),
    setPasswordHash: jest.fn<AsyncFn<[User, string], void>>().mockResolvedValue(undefined),
    recordLoginInBackground: jest.fn<(id: number) => void>(),
    verify: jest
      .fn<AsyncFn<[string, string], { ok: boolean; needsRehash: boolean }>>()
      .mockResolvedValue(options.verify ?? { ok: true, needsRehash: false }),
    burn: jest.fn<AsyncFn<[string], void>>().mockResolvedValue(undefined),
    hash: jest.fn<AsyncFn<[string], string>>().mockResolvedValue('$argon2id$new-hash'),
    createSession: jest.fn<AsyncFn<[number, RequestClient], RefreshHead>>().mockResolvedValue(head),
    putUserState: jest.fn<AsyncFn<[number, UserSnapshot], boolean>>().mockResolvedValue(true),
    refreshTokenFor: jest.fn<(head: RefreshHead) => string>().mockReturnValue('refresh-token'),
    issueAccess: jest.fn<(userId: number, sessionId: string | undefined) => IssuedAccess>().mockImplementation((userId, sessionId) => ({
      token: 'access-token',
      claims: { token_type: 'access', exp: 1_700_000_300, iat: 1_700_000_000, jti: 'b'.repeat(32), user_id: userId, sid: sessionId },
    })),
    assertAccountNotLocked: jest.fn<AsyncFn<[string], number>>().mockResolvedValue(options.failures ?? 0),
    recordAccountFailure: jest.fn<AsyncFn<[string], void>>().mockResolvedValue(undefined),
    clearAccountFailures: jest.fn<AsyncFn<[string], void>>().mockResolvedValue(undefined),
  };
  const mail = {
    ...readMailConfig({ NODE_ENV: 'test' }),
    allowUnverifiedLogin: options.allowUnverifiedLogin ?? true,
  };
  const service = new AuthService(
    strictFake<UsersService>('users', {
      findByLoginIdentifier: fns.findByLoginIdentifier,
      setPasswordHash: fns.setPasswordHash,
      recordLoginInBackground: fns.recordLoginInBackground,
    }),
    strictFake<PasswordHasher>('hasher', { verify: fns.verify, burn: fns.burn, hash: fns.hash }),
    strictFake<SessionsService>('sessions', { create: fns.createSession }),
    strictFake<RevocationStore>('revocation', { putUserState: fns.putUserState }),
    strictFake<TokensService>('tokens', { refreshTokenFor: fns.refreshTokenFor, issueAccess: fns.issueAccess }),
    strictFake<RateLimitService>('limits', {
      assertAccountNotLocked: fns.assertAccountNotLocked,
      recordAccountFailure: fns.recordAccountFailure,
      clearAccountFailures: fns.clearAccountFailures,
    }),
    strictFake<OutboxService>('outbox'),
    strictFake<DataSource>('dataSource'),
    mail,
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
    expect(fns.createSession).toHaveBeenCalledTimes(1);
    expect(fns.createSession).toHaveBeenCalledWith(42, client);
    expect(fns.refreshTokenFor).toHaveBeenCalledWith(head);
    expect(fns.issueAccess).toHaveBeenCalledWith(42, SESSION_ID);
    // The revocation store learns the user is active with no cutoff, so the guard needs no Postgres read.
    expect(fns.putUserState).toHaveBeenCalledWith(42, user);
    expect(fns.recordLoginInBackground).toHaveBeenCalledWith(42);
    expect(fns.recordAccountFailure).not.toHaveBeenCalled();
    // No earlier failures: nothing to reset (no Redis command spent on it).
    expect(fns.clearAccountFailures).not.toHaveBeenCalled();
    expect(fns.burn).not.toHaveBeenCalled();
    expect(fns.setPasswordHash).not.toHaveBeenCalled();
    expect(fns.hash).not.toHaveBeenCalled();
  });

  it('passes the user cutoff (tokens_valid_after) to the revocation store', async () => {
    const user = makeUser({ tokensValidAfter: new Date('2025-03-01T12:00:00.900Z') });
    const { service, fns } = setup({ user });
    await service.login('alice', PASSWORD, client);
    expect(fns.putUserState).toHaveBeenCalledWith(42, expect.objectContaining({ isActive: true, tokensValidAfter: new Date('2025-03-01T12:00:00.900Z') }));
  });

  it('resets the failure count of an account that had failed attempts (no lock-out of users who mistype now and then)', async () => {
    const { service, fns } = setup({ user: makeUser(), failures: 2 });
    await service.login('alice', PASSWORD, client);
    expect(fns.clearAccountFailures).toHaveBeenCalledWith('user:42');
  });

  it('stores a new hash of the password when the stored one needs a rehash (e.g. Django pbkdf2)', async () => {
    const user = makeUser({ passwordHash: 'pbkdf2_sha256$600000$salt$hash' });
    const { service, fns } = setup({ user, verify: { ok: true, needsRehash: true } });

    await expect(service.login('alice', PASSWORD, client)).resolves.toEqual({
      refresh: 'refresh-token',
      access: 'access-token',
    });
    expect(fns.hash).toHaveBeenCalledWith(PASSWORD);
    expect(fns.setPasswordHash).toHaveBeenCalledTimes(1);
    expect(fns.setPasswordHash.mock.calls[0][0]).toBe(user);
    expect(fns.setPasswordHash.mock.calls[0][1]).toBe('$argon2id$new-hash');
    expect(fns.createSession).toHaveBeenCalledTimes(1);
  });

  it('an unknown user: burns the same work on the password and answers no_active_account', async () => {
    const { service, fns } = setup({ user: null });

    await expectNoActiveAccount(service.login('Nobody@Example.com', PASSWORD, client));

    expect(fns.burn).toHaveBeenCalledTimes(1);
    expect(fns.burn).toHaveBeenCalledWith(PASSWORD);
    expect(fns.verify).not.toHaveBeenCalled();
    expect(fns.recordAccountFailure).toHaveBeenCalledTimes(1);
    expect(fns.createSession).not.toHaveBeenCalled();
    expect(fns.issueAccess).not.toHaveBeenCalled();
    expect(fns.refreshTokenFor).not.toHaveBeenCalled();
  });

  it('counts failures of an unknown identifier case-insensitively (one budget per identifier)', async () => {
    const { service, fns } = setup({ user: null });
    await expectNoActiveAccount(service.login('Nobody@Example.com', PASSWORD, client));
    await expectNoActiveAccount(service.login('nobody@example.com', PASSWORD, client));
    const [first, second] = fns.recordAccountFailure.mock.calls.map(([account]) => account);
    expect(first).toBe(second);
    expect(fns.assertAccountNotLocked.mock.calls[0][0]).toBe(first);
  });

  it('a wrong password: same answer, the failure is recorded against the account, no session', async () => {
    const { service, fns } = setup({ user: makeUser(), verify: { ok: false, needsRehash: false } });

    await expectNoActiveAccount(service.login('alice', 'wrong password', client));

    expect(fns.verify).toHaveBeenCalledWith(STORED_HASH, 'wrong password');
    expect(fns.recordAccountFailure).toHaveBeenCalledTimes(1);
    expect(fns.createSession).not.toHaveBeenCalled();
    expect(fns.setPasswordHash).not.toHaveBeenCalled();
    expect(fns.recordLoginInBackground).not.toHaveBeenCalled();
  });

  it('records failures by account, so the username and the e-mail share one budget', async () => {
    const { service, fns } = setup({ user: makeUser(), verify: { ok: false, needsRehash: false } });
    await expectNoActiveAccount(service.login('alice', 'wrong', client));
    await expectNoActiveAccount(service.login('alice@example.com', 'wrong', client));
    const accounts = fns.recordAccountFailure.mock.calls.map(([account]) => account);
    expect(accounts).toHaveLength(2);
    expect(accounts[0]).toBe(accounts[1]);
  });

  it('a wrong password that would also need a rehash does not store anything', async () => {
    const { service, fns } = setup({ user: makeUser(), verify: { ok: false, needsRehash: true } });
    await expectNoActiveAccount(service.login('alice', 'wrong', client));
    expect(fns.hash).not.toHaveBeenCalled();
    expect(fns.setPasswordHash).not.toHaveBeenCalled();
  });

  it('an inactive user with the right password: same answer, no session', async () => {
    const { service, fns } = setup({ user: makeUser({ isActive: false }) });

    await expectNoActiveAccount(service.login('alice', PASSWORD, client));

    expect(fns.verify).toHaveBeenCalledTimes(1);
    expect(fns.createSession).not.toHaveBeenCalled();
    expect(fns.putUserState).not.toHaveBeenCalled();
    expect(fns.issueAccess).not.toHaveBeenCalled();
  });

  it('ALLOW_UNVERIFIED_LOGIN=false: an unverified user gets the same answer and no session', async () => {
    const { service, fns } = setup({ user: makeUser({ emailVerifiedAt: null }), allowUnverifiedLogin: false });

    await expectNoActiveAccount(service.login('alice', PASSWORD, client));

    expect(fns.createSession).not.toHaveBeenCalled();
    expect(fns.issueAccess).not.toHaveBeenCalled();
  });

  it('ALLOW_UNVERIFIED_LOGIN=false still lets a verified user in', async () => {
    const { service, fns } = setup({ user: makeUser(), allowUnverifiedLogin: false });
    await expect(service.login('alice', PASSWORD, client)).resolves.toEqual({ refresh: 'refresh-token', access: 'access-token' });
    expect(fns.createSession).toHaveBeenCalledTimes(1);
  });

  it('ALLOW_UNVERIFIED_LOGIN=true (the default) lets an unverified user in', async () => {
    const { service, fns } = setup({ user: makeUser({ emailVerifiedAt: null }) });
    await expect(service.login('alice', PASSWORD, client)).resolves.toEqual({ refresh: 'refresh-token', access: 'access-token' });
    expect(fns.createSession).toHaveBeenCalledTimes(1);
  });

  it('a locked account: the 429 passes through and no password is checked', async () => {
    const { service, fns } = setup({ user: makeUser() });
    const locked = throttled(120);
    fns.assertAccountNotLocked.mockRejectedValue(locked);

    await expect(service.login('alice', PASSWORD, client)).rejects.toBe(locked);

    expect(fns.verify).not.toHaveBeenCalled();
    expect(fns.burn).not.toHaveBeenCalled();
    expect(fns.hash).not.toHaveBeenCalled();
    expect(fns.recordAccountFailure).not.toHaveBeenCalled();
    expect(fns.createSession).not.toHaveBeenCalled();
  });

  it('a locked unknown identifier: the 429 passes through and nothing is hashed', async () => {
    const { service, fns } = setup({ user: null });
    const locked = throttled(30);
    fns.assertAccountNotLocked.mockRejectedValue(locked);

    const error = await rejectionOf(service.login('ghost', PASSWORD, client));
    expect(error).toBe(locked);
    expect((error as DrfException).getStatus()).toBe(429);
    expect(fns.burn).not.toHaveBeenCalled();
    expect(fns.verify).not.toHaveBeenCalled();
  });
});
