import { createHmac } from 'node:crypto';
import { describe, it, expect, jest, afterEach } from '@jest/globals';
import { JwtService } from '@nestjs/jwt';
import { DrfException } from '../common/http/drf-errors.js';
import { readAuthConfig } from '../config/auth.config.js';
import type { RefreshHead } from '../session/sessions.service.js';
import { type TokenClaims, TokenClaimsError, TokensService } from './tokens.service.js';

const SIGNING_KEY = 'unit-test-signing-key-0123456789abcdef';
const SESSION_ID = '7d0c1a9e-5b1f-4c39-9f55-3a8b1d2e4f60';
const JTI = '0123456789abcdef0123456789abcdef';
const TOKEN_NOT_VALID = { detail: 'Token is invalid or expired', code: 'token_not_valid' };

const jwt = new JwtService();
const config = readAuthConfig({ JWT_SIGNING_KEY: SIGNING_KEY });
const tokens = new TokensService(jwt, config);

const nowSeconds = () => Math.floor(Date.now() / 1000);

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Signs arbitrary claims the way any HS256 library (PyJWT in the Django system included) would. */
function signRaw(payload: Record<string, unknown>, options: { algorithm?: 'HS256' | 'HS384' | 'HS512'; key?: string } = {}): string {
  const algorithm = options.algorithm ?? 'HS256';
  const header = base64url({ alg: algorithm, typ: 'JWT' });
  const body = base64url(payload);
  const digest = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }[algorithm];
  const signature = createHmac(digest, options.key ?? SIGNING_KEY).update(`${header}.${body}`).digest('base64url');
  return `${header}.${body}.${signature}`;
}

function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const iat = nowSeconds();
  return { token_type: 'access', exp: iat + 300, iat, jti: JTI, user_id: 42, sid: SESSION_ID, ...overrides };
}

/** The token_not_valid error verify throws (fails the test if verify accepts the token). */
function rejectionOf(token: string, expected?: 'access' | 'refresh'): DrfException {
  let thrown: unknown;
  try {
    tokens.verify(token, expected);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(DrfException);
  expect((thrown as DrfException).getStatus()).toBe(401);
  return thrown as DrfException;
}

function expectInvalid(token: string, expected?: 'access' | 'refresh'): void {
  expect(rejectionOf(token, expected).body).toEqual(TOKEN_NOT_VALID);
}

describe('TokensService', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  describe('issueAccess', () => {
    it("carries simplejwt's claims plus sid, with the configured lifetime", () => {
      const before = nowSeconds();
      const { token, claims: issued } = tokens.issueAccess(42, SESSION_ID);
      const decoded = jwt.decode<TokenClaims>(token);

      expect(decoded).toEqual(issued);
      expect(Object.keys(decoded).sort()).toEqual(['exp', 'iat', 'jti', 'sid', 'token_type', 'user_id']);
      expect(decoded.token_type).toBe('access');
      expect(decoded.user_id).toBe(42);
      expect(decoded.sid).toBe(SESSION_ID);
      expect(decoded.jti).toMatch(/^[0-9a-f]{32}$/);
      expect(decoded.iat).toBeGreaterThanOrEqual(before);
      expect(decoded.iat).toBeLessThanOrEqual(nowSeconds());
      expect(decoded.exp - decoded.iat).toBe(300);
    });

    it('is signed with the pinned algorithm (HS256 by default)', () => {
      const { token } = tokens.issueAccess(42, SESSION_ID);
      expect(jwt.decode(token, { complete: true }).header).toEqual({ alg: 'HS256', typ: 'JWT' });
    });

    it('follows ACCESS_TOKEN_LIFETIME_SECONDS and JWT_ALGORITHM', () => {
      const custom = new TokensService(
        jwt,
        readAuthConfig({ JWT_SIGNING_KEY: SIGNING_KEY, ACCESS_TOKEN_LIFETIME_SECONDS: '60', JWT_ALGORITHM: 'HS512' }),
      );
      const { token, claims: issued } = custom.issueAccess(7, SESSION_ID);
      expect(issued.exp - issued.iat).toBe(60);
      expect(jwt.decode(token, { complete: true }).header.alg).toBe('HS512');
      expect(custom.verify(token, 'access').user_id).toBe(7);
    });

    it('gives every token its own jti', () => {
      const jtis = new Set(Array.from({ length: 20 }, () => tokens.issueAccess(42, SESSION_ID).claims.jti));
      expect(jtis.size).toBe(20);
    });

    it('leaves sid out when there is no session', () => {
      const { token } = tokens.issueAccess(42, undefined);
      expect(jwt.decode<Record<string, unknown>>(token)).not.toHaveProperty('sid');
      expect(tokens.verify(token, 'access').sid).toBeUndefined();
    });

    it('verifies as an access token', () => {
      const { token, claims: issued } = tokens.issueAccess(42, SESSION_ID);
      expect(tokens.verify(token, 'access')).toEqual(issued);
      expect(tokens.verify(token)).toEqual(issued);
    });
  });

  describe('refreshTokenFor', () => {
    const head: RefreshHead = { sessionId: SESSION_ID, userId: 42, jti: JTI, iat: nowSeconds(), exp: nowSeconds() + 86_400 };

    it('is deterministic for the same head (a retried refresh gets the same token)', () => {
      expect(tokens.refreshTokenFor(head)).toBe(tokens.refreshTokenFor({ ...head }));
    });

    it('changes with the head', () => {
      expect(tokens.refreshTokenFor({ ...head, jti: 'f'.repeat(32) })).not.toBe(tokens.refreshTokenFor(head));
    });

    it("carries the head's claims and verifies as a refresh token", () => {
      const token = tokens.refreshTokenFor(head);
      expect(tokens.verify(token, 'refresh')).toEqual({
        token_type: 'refresh',
        exp: head.exp,
        iat: head.iat,
        jti: head.jti,
        user_id: 42,
        sid: SESSION_ID,
      });
    });
  });

  describe('verify', () => {
    it('accepts a token signed with the same key by another HS256 library (Django SECRET_KEY)', () => {
      const token = signRaw(claims({ token_type: 'refresh', sid: undefined }));
      expect(tokens.verify(token, 'refresh')).toMatchObject({ token_type: 'refresh', user_id: 42, jti: JTI });
    });

    it('rejects a token signed with the same key but another algorithm (HS512)', () => {
      expectInvalid(signRaw(claims(), { algorithm: 'HS512' }));
      expectInvalid(jwt.sign(claims(), { secret: SIGNING_KEY, algorithm: 'HS512' }));
      expectInvalid(signRaw(claims(), { algorithm: 'HS384' }));
    });

    it('rejects alg: none', () => {
      const header = base64url({ alg: 'none', typ: 'JWT' });
      const body = base64url(claims());
      expectInvalid(`${header}.${body}.`);
      expectInvalid(`${header}.${body}`);
      // none in the header with a valid HS256 signature appended does not pass either
      const signature = signRaw(claims()).split('.')[2];
      expectInvalid(`${header}.${body}.${signature}`);
    });

    it('rejects a token signed with another key', () => {
      expectInvalid(signRaw(claims(), { key: 'some-other-key-0123456789abcdefghij' }));
    });

    it('rejects an expired token', () => {
      const iat = nowSeconds() - 600;
      expectInvalid(signRaw(claims({ iat, exp: iat + 300 })));
    });

    it('rejects an access token once its lifetime has passed', () => {
      const { token } = tokens.issueAccess(42, SESSION_ID);
      jest.useFakeTimers({ now: Date.now() + 301_000, doNotFake: ['nextTick', 'setImmediate'] });
      expectInvalid(token, 'access');
    });

    it('rejects a tampered payload', () => {
      const [header, , signature] = signRaw(claims()).split('.');
      expectInvalid(`${header}.${base64url(claims({ user_id: 1 }))}.${signature}`);
    });

    it.each(['', 'garbage', 'a.b.c', 'Bearer x.y.z'])('rejects %p', (token) => {
      expectInvalid(token);
    });

    it('says "Token has wrong type" when another type is expected', () => {
      const refresh = tokens.refreshTokenFor({ sessionId: SESSION_ID, userId: 42, jti: JTI, iat: nowSeconds(), exp: nowSeconds() + 600 });
      const { token: access } = tokens.issueAccess(42, SESSION_ID);
      expect(rejectionOf(refresh, 'access').body).toEqual({ detail: 'Token has wrong type', code: 'token_not_valid' });
      expect(rejectionOf(access, 'refresh').body).toEqual({ detail: 'Token has wrong type', code: 'token_not_valid' });
      expect(tokens.verify(refresh).token_type).toBe('refresh');
      expect(tokens.verify(access).token_type).toBe('access');
    });

    it.each<[string, Record<string, unknown>]>([
      ['an unknown token_type', { token_type: 'id' }],
      ['no token_type', { token_type: undefined }],
      ['a string user_id', { user_id: '42' }],
      ['a fractional user_id', { user_id: 4.2 }],
      ['no user_id', { user_id: undefined }],
      ['an unsafe integer user_id', { user_id: 2 ** 53 }],
      ['a user_id beyond PostgreSQL integer', { user_id: 2 ** 31 }],
      ['a user_id of 0', { user_id: 0 }],
      ['a negative user_id', { user_id: -1 }],
      ['a jti that is not 32 hex', { jti: 'not-a-jti' }],
      ['an upper-case jti', { jti: JTI.toUpperCase() }],
      ['a numeric jti', { jti: 12345 }],
      ['a sid that is not a uuid', { sid: 'session-1' }],
      ['a numeric sid', { sid: 5 }],
      ['a string iat', { iat: String(nowSeconds()) }],
      ['a fractional exp', { exp: nowSeconds() + 300.5 }],
    ])('rejects claims of the wrong shape: %s', (_label, overrides) => {
      expectInvalid(signRaw(claims(overrides)));
    });

    it('rejects a payload that is not an object', () => {
      const header = base64url({ alg: 'HS256', typ: 'JWT' });
      const body = Buffer.from('"just a string"').toString('base64url');
      const signature = createHmac('sha256', SIGNING_KEY).update(`${header}.${body}`).digest('base64url');
      expectInvalid(`${header}.${body}.${signature}`);
    });
  });

  describe('tokens of the Django system (no sid)', () => {
    const legacy = (overrides: Record<string, unknown> = {}) => claims({ sid: undefined, ...overrides });

    it('are honoured with user_id as an integer or as a string of one (LEGACY_TOKENS default on)', () => {
      expect(config.legacyTokens).toBe(true);
      expect(tokens.verify(signRaw(legacy()), 'access').user_id).toBe(42);
      expect(tokens.verify(signRaw(legacy({ user_id: '42' })), 'access').user_id).toBe(42);
    });

    it('a string user_id that is not a plain positive integer is refused', () => {
      for (const userId of ['042', '4.2', '-1', ' 42', '42abc', '99999999999', '']) {
        expectInvalid(signRaw(legacy({ user_id: userId })), 'access');
      }
    });

    it('LEGACY_TOKENS=false refuses them, and still takes the service\'s own', () => {
      const strict = new TokensService(jwt, readAuthConfig({ JWT_SIGNING_KEY: SIGNING_KEY, LEGACY_TOKENS: 'false' }));
      for (const token of [signRaw(legacy()), signRaw(legacy({ token_type: 'refresh' }))]) {
        expect(() => strict.verify(token)).toThrow(DrfException);
      }
      expect(strict.verify(signRaw(claims()), 'access').sid).toBe(SESSION_ID);
      expect(() => strict.checkClaims(legacy())).toThrow(TokenClaimsError);
    });
  });
});

describe('TokensService.checkClaims (the one place the JWT strategy and the token views check claims)', () => {
  const reasonOf = (payload: unknown, expected?: 'access' | 'refresh') => {
    try {
      tokens.checkClaims(payload, expected);
    } catch (error) {
      expect(error).toBeInstanceOf(TokenClaimsError);
      return (error as TokenClaimsError).reason;
    }
    return 'accepted';
  };

  it('accepts well-formed claims of the expected type and returns them', () => {
    const payload = claims();
    expect(tokens.checkClaims(payload, 'access')).toBe(payload);
    expect(reasonOf(claims({ sid: undefined }), 'access')).toBe('accepted');
  });

  it('refuses a wrong type as wrong_type, and any malformed claim as malformed (a typed error, no message matching)', () => {
    expect(reasonOf(claims({ token_type: 'refresh' }), 'access')).toBe('wrong_type');
    for (const bad of [claims({ user_id: '42' }), claims({ user_id: 0 }), claims({ jti: 'short' }), claims({ sid: 'not-a-uuid' }), claims({ token_type: 'id' }), null, 'string']) {
      expect(reasonOf(bad, 'access')).toBe('malformed');
    }
  });
});
