import { createSecretKey, type KeyObject } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { JwtService } from '@nestjs/jwt';
import { tokenNotValid } from '../common/http/drf-errors.js';
import { authConfig } from '../config/auth.config.js';
import { newJti, type RefreshHead } from '../session/sessions.service.js';
import { MAX_USER_ID } from '../users/user.entity.js';

export type TokenType = 'access' | 'refresh';

/** simplejwt's claims, plus `sid` (the session). Field order is fixed so re-signing is deterministic. */
export interface TokenClaims {
  token_type: TokenType;
  exp: number;
  iat: number;
  jti: string;
  user_id: number;
  sid?: string;
}

export interface IssuedAccess {
  token: string;
  claims: TokenClaims;
}

/** Why a verified token's claims were refused (see TokensService.checkClaims). */
export class TokenClaimsError extends Error {
  constructor(readonly reason: 'malformed' | 'wrong_type' | 'legacy_disabled') {
    super({ malformed: 'token claims of an unexpected shape', wrong_type: 'token of the wrong type', legacy_disabled: 'a token of the Django system while LEGACY_TOKENS=false' }[reason]);
  }
}

const JTI_PATTERN = /^[0-9a-f]{32}$/;
/** A user id written as a string (simplejwt writes `str(pk)` when the pk is not an int). */
const STRING_USER_ID = /^[1-9]\d{0,9}$/;
const SID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Signs and verifies the service's JWTs. The HMAC key is turned into a KeyObject once: jsonwebtoken
 * re-imports a string secret on every call, which measured ~50× slower. The algorithm is pinned.
 */
@Injectable()
export class TokensService {
  readonly key: KeyObject;

  constructor(
    private readonly jwt: JwtService,
    @Inject(authConfig.KEY) private readonly config: ConfigType<typeof authConfig>,
  ) {
    this.key = createSecretKey(Buffer.from(config.signingKey, 'utf8'));
  }

  get algorithm() {
    return this.config.algorithm;
  }

  private sign(claims: TokenClaims): string {
    // JwtService's typings stop at string | Buffer; jsonwebtoken itself takes a KeyObject.
    return this.jwt.sign({ ...claims }, { secret: this.key as unknown as string, algorithm: this.config.algorithm });
  }

  issueAccess(userId: number, sessionId: string | undefined): IssuedAccess {
    const iat = Math.floor(Date.now() / 1000);
    const claims: TokenClaims = {
      token_type: 'access',
      exp: iat + this.config.accessTokenLifetimeSeconds,
      iat,
      jti: newJti(),
      user_id: userId,
      ...(sessionId ? { sid: sessionId } : {}),
    };
    return { token: this.sign(claims), claims };
  }

  /** The refresh token of a session's chain head; the same head always gives the same token. */
  refreshTokenFor(head: RefreshHead): string {
    return this.sign({
      token_type: 'refresh',
      exp: head.exp,
      iat: head.iat,
      jti: head.jti,
      user_id: head.userId,
      sid: head.sessionId,
    });
  }

  /**
   * Verifies signature, algorithm and expiry, then the claims (checkClaims). Throws simplejwt's
   * token_not_valid errors. `expected` checks token_type.
   */
  verify(token: string, expected?: TokenType): TokenClaims {
    let payload: unknown;
    try {
      payload = this.jwt.verify<TokenClaims>(token, {
        secret: this.key as unknown as string,
        algorithms: [this.config.algorithm],
      });
    } catch {
      throw tokenNotValid();
    }
    try {
      return this.checkClaims(payload, expected);
    } catch (error) {
      if (error instanceof TokenClaimsError && error.reason === 'wrong_type') throw tokenNotValid('Token has wrong type');
      throw tokenNotValid();
    }
  }

  /**
   * Every check of a token's claims, in one place, for a token whose signature, algorithm and
   * expiry were verified (here by `verify`, or by passport-jwt with `key` and `algorithm`): a token
   * of the Django system (no `sid`) only while LEGACY_TOKENS is on, and then with `user_id` as an
   * integer or as a string of one; the shape; then the type when `expected` is given. Throws
   * TokenClaimsError; callers map it to their own answer.
   */
  checkClaims(payload: unknown, expected?: TokenType): TokenClaims {
    if (typeof payload !== 'object' || payload === null) throw new TokenClaimsError('malformed');
    const raw = payload as Record<string, unknown>;
    const legacy = raw.sid === undefined;
    if (legacy && !this.config.legacyTokens) throw new TokenClaimsError('legacy_disabled');
    const userId = raw.user_id;
    const claims: Partial<TokenClaims> = legacy && typeof userId === 'string' && STRING_USER_ID.test(userId) ? { ...raw, user_id: Number(userId) } : raw;
    if (!TokensService.hasValidShape(claims)) throw new TokenClaimsError('malformed');
    if (expected && claims.token_type !== expected) throw new TokenClaimsError('wrong_type');
    return claims;
  }

  static hasValidShape(claims: Partial<TokenClaims>): claims is TokenClaims {
    return (
      (claims.token_type === 'access' || claims.token_type === 'refresh') &&
      // A validly signed token can still name an id no user can have (the key leaked to a test, a bug
      // elsewhere): it names nobody, and must never reach PostgreSQL's integer column.
      Number.isSafeInteger(claims.user_id) &&
      (claims.user_id as number) >= 1 &&
      (claims.user_id as number) <= MAX_USER_ID &&
      Number.isSafeInteger(claims.iat) &&
      Number.isSafeInteger(claims.exp) &&
      typeof claims.jti === 'string' &&
      JTI_PATTERN.test(claims.jti) &&
      (claims.sid === undefined || (typeof claims.sid === 'string' && SID_PATTERN.test(claims.sid)))
    );
  }
}
