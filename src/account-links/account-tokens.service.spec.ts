import { describe, it, expect, jest, afterEach } from '@jest/globals';
import { readAuthConfig } from '../config/auth.config.js';
import type { User } from '../users/user.entity.js';
import { AccountTokensService } from './account-tokens.service.js';

const HOUR = 3600;
const NOW_MS = Date.parse('2025-06-01T12:00:00Z');
const NOW = NOW_MS / 1000;

function makeUser(overrides: Partial<User> = {}): User {
  return {
    id: 42,
    username: 'alice',
    email: 'alice@example.com',
    passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$b2xkLWhhc2g',
    isActive: true,
    dateJoined: new Date('2024-01-01T00:00:00Z'),
    lastLogin: new Date('2025-05-30T08:00:00Z'),
    emailVerifiedAt: null,
    tokensValidAfter: null,
    authVersion: 0,
    ...overrides,
  };
}

const service = new AccountTokensService(readAuthConfig({ JWT_SIGNING_KEY: 'unit-test-signing-key-0123456789abcdef' }));

describe('AccountTokensService', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  const at = (epochSeconds: number) => jest.useFakeTimers({ now: epochSeconds * 1000, doNotFake: ['nextTick', 'setImmediate'] });

  describe('password-reset tokens', () => {
    it('look like <base36 timestamp>-<40 hex>', () => {
      const token = service.make('password-reset', makeUser(), NOW);
      expect(token).toMatch(/^[0-9a-z]+-[0-9a-f]{40}$/);
      expect(parseInt(token.split('-')[0], 36)).toBe(NOW);
    });

    it('check out for the same user state (a fresh copy of the row)', () => {
      at(NOW + 60);
      const token = service.make('password-reset', makeUser(), NOW);
      expect(service.check('password-reset', makeUser(), token, HOUR)).toBe(true);
    });

    it('are deterministic for the same user and time, and differ between users', () => {
      expect(service.make('password-reset', makeUser(), NOW)).toBe(service.make('password-reset', makeUser(), NOW));
      expect(service.make('password-reset', makeUser({ id: 43 }), NOW)).not.toBe(service.make('password-reset', makeUser(), NOW));
    });

    it('fail for another user', () => {
      at(NOW);
      const token = service.make('password-reset', makeUser(), NOW);
      expect(service.check('password-reset', makeUser({ id: 43 }), token, HOUR)).toBe(false);
    });

    it('fail once the password hash changes (so a link works once)', () => {
      at(NOW);
      const token = service.make('password-reset', makeUser(), NOW);
      const afterReset = makeUser({ passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$bmV3LWhhc2g' });
      expect(service.check('password-reset', afterReset, token, HOUR)).toBe(false);
    });

    it('survive a login (last_login is written in the background, so it is not signed)', () => {
      at(NOW);
      const token = service.make('password-reset', makeUser(), NOW);
      expect(service.check('password-reset', makeUser({ lastLogin: new Date('2025-06-01T12:00:30Z') }), token, HOUR)).toBe(true);
      const neverLoggedIn = service.make('password-reset', makeUser({ lastLogin: null }), NOW);
      expect(service.check('password-reset', makeUser({ lastLogin: new Date(NOW_MS) }), neverLoggedIn, HOUR)).toBe(true);
    });

    it('fail once the e-mail address changes or the account is deactivated', () => {
      at(NOW);
      const token = service.make('password-reset', makeUser(), NOW);
      expect(service.check('password-reset', makeUser({ email: 'mallory@example.com' }), token, HOUR)).toBe(false);
      expect(service.check('password-reset', makeUser({ isActive: false }), token, HOUR)).toBe(false);
    });

    it('live exactly max age seconds', () => {
      const token = service.make('password-reset', makeUser(), NOW);
      at(NOW + HOUR);
      expect(service.check('password-reset', makeUser(), token, HOUR)).toBe(true);
      at(NOW + HOUR + 1);
      expect(service.check('password-reset', makeUser(), token, HOUR)).toBe(false);
      at(NOW + 2 * HOUR);
      expect(service.check('password-reset', makeUser(), token, 2 * HOUR)).toBe(true);
    });

    it('fail when issued in the future', () => {
      at(NOW);
      const token = service.make('password-reset', makeUser(), NOW + 120);
      expect(service.check('password-reset', makeUser(), token, HOUR)).toBe(false);
    });

    it('fail when tampered with', () => {
      at(NOW + 10);
      const user = makeUser();
      const token = service.make('password-reset', user, NOW);
      const [timestamp, signature] = token.split('-');
      const flipped = `${signature.slice(0, -1)}${signature.endsWith('0') ? '1' : '0'}`;
      // A later timestamp with the old signature (to stretch the lifetime) does not verify.
      const later = (NOW + 5).toString(36);
      expect(service.check('password-reset', user, `${timestamp}-${flipped}`, HOUR)).toBe(false);
      expect(service.check('password-reset', user, `${later}-${signature}`, HOUR)).toBe(false);
      expect(service.check('password-reset', user, `${timestamp}-${signature.toUpperCase()}`, HOUR)).toBe(false);
      expect(service.check('password-reset', user, `${timestamp}-${signature.slice(0, 39)}`, HOUR)).toBe(false);
      expect(service.check('password-reset', user, `${timestamp}-${signature}0`, HOUR)).toBe(false);
      expect(service.check('password-reset', user, `${token} `, HOUR)).toBe(false);
      expect(service.check('password-reset', user, '', HOUR)).toBe(false);
      expect(service.check('password-reset', user, 'garbage', HOUR)).toBe(false);
      expect(service.check('password-reset', user, token, HOUR)).toBe(true);
    });

    it('fail when made with another signing key', () => {
      at(NOW);
      const other = new AccountTokensService(readAuthConfig({ JWT_SIGNING_KEY: 'another-signing-key-0123456789abcdef' }));
      const token = other.make('password-reset', makeUser(), NOW);
      expect(service.check('password-reset', makeUser(), token, HOUR)).toBe(false);
    });

    it('fail when made for the other purpose, both ways', () => {
      at(NOW);
      const user = makeUser();
      const verifyToken = service.make('verify-email', user, NOW);
      const resetToken = service.make('password-reset', user, NOW);
      expect(service.check('password-reset', user, verifyToken, HOUR)).toBe(false);
      expect(service.check('verify-email', user, resetToken, HOUR)).toBe(false);
    });
  });

  describe('verify-email tokens', () => {
    it('check out while the address is unconfirmed', () => {
      at(NOW + 60);
      const token = service.make('verify-email', makeUser(), NOW);
      expect(service.check('verify-email', makeUser(), token, 3 * 24 * HOUR)).toBe(true);
    });

    it('survive a login or a password change (they are not about the password)', () => {
      at(NOW + 60);
      const token = service.make('verify-email', makeUser(), NOW);
      const changed = makeUser({ lastLogin: new Date(NOW_MS), passwordHash: 'pbkdf2_sha256$1$s$h' });
      expect(service.check('verify-email', changed, token, 3 * 24 * HOUR)).toBe(true);
    });

    it('die once emailVerifiedAt is set', () => {
      at(NOW + 60);
      const token = service.make('verify-email', makeUser(), NOW);
      expect(service.check('verify-email', makeUser({ emailVerifiedAt: new Date(NOW_MS + 30_000) }), token, 3 * 24 * HOUR)).toBe(false);
    });

    it('die when the address changes', () => {
      at(NOW + 60);
      const token = service.make('verify-email', makeUser(), NOW);
      expect(service.check('verify-email', makeUser({ email: 'alice@new.example.com' }), token, 3 * 24 * HOUR)).toBe(false);
    });

    it('die after their max age', () => {
      const token = service.make('verify-email', makeUser(), NOW);
      at(NOW + 3 * 24 * HOUR + 1);
      expect(service.check('verify-email', makeUser(), token, 3 * 24 * HOUR)).toBe(false);
    });
  });

  describe('encodeUid / decodeUid', () => {
    it("encodes like Django's urlsafe_base64_encode(force_bytes(pk))", () => {
      expect(AccountTokensService.encodeUid(1)).toBe('MQ');
      expect(AccountTokensService.encodeUid(42)).toBe('NDI');
      expect(AccountTokensService.encodeUid(1000)).toBe('MTAwMA');
    });

    it.each([1, 42, 999, 123_456_789, 2_147_483_647])('round-trips %p', (id) => {
      const uid = AccountTokensService.encodeUid(id);
      expect(uid).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(AccountTokensService.decodeUid(uid)).toBe(id);
    });

    it.each<[string, string]>([
      ['empty', ''],
      ['not digits', Buffer.from('abc').toString('base64url')],
      ['a negative number', Buffer.from('-1').toString('base64url')],
      ['a decimal', Buffer.from('1.5').toString('base64url')],
      ['digits with spaces', Buffer.from(' 42').toString('base64url')],
      ['more than 10 digits', Buffer.from('12345678901').toString('base64url')],
      ['beyond PostgreSQL integer', Buffer.from('9999999999').toString('base64url')],
      ['zero', Buffer.from('0').toString('base64url')],
      ['random garbage', '!!!***'],
      ['a JWT-looking string', 'eyJhbGciOiJIUzI1NiJ9'],
    ])('rejects %s', (_label, uid) => {
      expect(AccountTokensService.decodeUid(uid)).toBeNull();
    });
  });
});
