import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { ExtractJwt, Strategy } from 'passport-jwt';
import type { AuthenticatedUser } from '../../common/decorators/authenticated-user.js';
import { authenticationFailed, bearerTokenNotValid } from '../../common/http/drf-errors.js';
import type { ResponsePrefetch } from '../../cache/response-prefetch.js';
import { RedisKeys } from '../../redis/redis-keys.js';
import { RevocationStore } from '../../session/revocation-store.service.js';
import { type TokenClaims, TokensService } from '../tokens.service.js';

/**
 * passport-jwt verifies the bearer token (signature with the pinned algorithm, expiry); `validate`
 * then enforces the token type and revocation — one Redis round trip, no PostgreSQL query while
 * Redis is healthy.
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(
    private readonly tokens: TokensService,
    private readonly revocation: RevocationStore,
  ) {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      secretOrKey: tokens.key as unknown as string,
      algorithms: [tokens.algorithm],
      ignoreExpiration: false,
      passReqToCallback: true,
    });
  }

  async validate(request: ResponsePrefetch, verified: Record<string, unknown>): Promise<AuthenticatedUser> {
    // A Django-issued token (no sid) while LEGACY_TOKENS=false: as if its signature were wrong.
    if (verified.sid === undefined && !this.tokens.legacyTokens) throw bearerTokenNotValid();
    const claims: TokenClaims | null = this.tokens.accept(verified);
    if (!claims) {
      throw authenticationFailed('Token contained no recognizable user identification', 'token_not_valid');
    }
    if (claims.token_type !== 'access') throw bearerTokenNotValid('Token has wrong type');
    // On @CachePerUser() routes the user's cache entry comes back in the same MGET.
    const cacheKey = request.responseCacheRoute ? RedisKeys.response(claims.user_id, request.responseCacheRoute) : undefined;
    const { verdict, also } = await this.revocation.checkAndRead(claims.user_id, claims.sid ?? null, claims.iat, cacheKey);
    if (cacheKey) request.prefetchedResponse = also;
    switch (verdict) {
      case 'ok':
        return { id: claims.user_id, sid: claims.sid ?? null, jti: claims.jti, iat: claims.iat, exp: claims.exp };
      case 'user_not_found':
        throw authenticationFailed('User not found', 'user_not_found');
      case 'user_inactive':
        throw authenticationFailed('User is inactive', 'user_inactive');
      default:
        throw bearerTokenNotValid('Token is blacklisted');
    }
  }
}
