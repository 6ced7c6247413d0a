import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { ExtractJwt, Strategy } from 'passport-jwt';
import type { SessionPrincipal } from '../../common/auth/principal.js';
import { readAlongOf } from '../../common/auth/read-along.js';
import { authenticationFailed, bearerTokenNotValid } from '../../common/http/drf-errors.js';
import { RevocationStore } from '../../session/revocation-store.service.js';
import { TokenClaimsError, TokensService } from '../tokens.service.js';
import { CredentialStrategies } from './credential-strategies.js';

/** `Authorization: Bearer <token>` (the scheme in any case), as passport-jwt's extractor reads it. */
const BEARER = /^bearer\s+\S/i;

/**
 * Our access tokens (and the Django system's). passport-jwt verifies the signature with
 * TokensService's key and pinned algorithm, and the expiry; every claim check after that is
 * TokensService.checkClaims; then the revocation check — one Redis round trip (which also reads
 * what the request asked to read along), no PostgreSQL query while Redis is healthy.
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(
    private readonly tokens: TokensService,
    private readonly revocation: RevocationStore,
    strategies: CredentialStrategies,
  ) {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      secretOrKey: tokens.key as unknown as string,
      algorithms: [tokens.algorithm],
      ignoreExpiration: false,
      passReqToCallback: true,
    });
    strategies.register({
      name: 'jwt',
      kind: 'session',
      presented: (request) => BEARER.test(request.headers.authorization ?? ''),
      // passport-jwt fails a presented token with jsonwebtoken's error (bad signature, expired, malformed).
      rejected: () => bearerTokenNotValid(),
    });
  }

  async validate(request: FastifyRequest, payload: unknown): Promise<SessionPrincipal> {
    let claims;
    try {
      claims = this.tokens.checkClaims(payload, 'access');
    } catch (error) {
      if (error instanceof TokenClaimsError && error.reason === 'wrong_type') throw bearerTokenNotValid('Token has wrong type');
      // A Django-issued token (no sid) while LEGACY_TOKENS=false: as if its signature were wrong.
      if (error instanceof TokenClaimsError && error.reason === 'legacy_disabled') throw bearerTokenNotValid();
      throw authenticationFailed('Token contained no recognizable user identification', 'token_not_valid');
    }
    const sessionId = claims.sid ?? null;
    const readAlong = readAlongOf(request);
    const { verdict, also } = await this.revocation.checkAndRead(claims.user_id, sessionId, claims.iat, readAlong?.keysFor(claims.user_id));
    readAlong?.received(also);
    switch (verdict) {
      case 'ok':
        return { kind: 'session', userId: claims.user_id, sessionId, jti: claims.jti, iat: claims.iat, exp: claims.exp };
      case 'user_not_found':
        throw authenticationFailed('User not found', 'user_not_found');
      case 'user_inactive':
        throw authenticationFailed('User is inactive', 'user_inactive');
      default:
        throw bearerTokenNotValid('Token is blacklisted');
    }
  }
}
