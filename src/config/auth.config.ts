import { registerAs } from '@nestjs/config';
import { ConfigError, type Env, envBool, envEnum, envInt, envOptionalString, isProduction } from './env.js';

export const JWT_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const;
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

/**
 * Used only outside production so that a fresh clone runs without configuration. It is published
 * (here), so production refuses it even when it is set explicitly.
 */
export const DEVELOPMENT_SIGNING_KEY = 'dev-only-signing-key-change-me-in-production-0123456789';
export const MIN_SIGNING_KEY_LENGTH = 32;

export function readAuthConfig(env: Env) {
  const configuredKey = envOptionalString(env, 'JWT_SIGNING_KEY');
  if (isProduction(env)) {
    const production = 'in production (NODE_ENV other than development or test)';
    if (!configuredKey) throw new ConfigError('JWT_SIGNING_KEY', `is required ${production}`);
    if (configuredKey.length < MIN_SIGNING_KEY_LENGTH) {
      throw new ConfigError('JWT_SIGNING_KEY', `must be at least ${MIN_SIGNING_KEY_LENGTH} characters ${production}`);
    }
    if (configuredKey === DEVELOPMENT_SIGNING_KEY) {
      throw new ConfigError('JWT_SIGNING_KEY', `is the published development key, refused ${production}`);
    }
  }
  return {
    signingKey: configuredKey ?? DEVELOPMENT_SIGNING_KEY,
    algorithm: envEnum(env, 'JWT_ALGORITHM', JWT_ALGORITHMS, 'HS256'),
    accessTokenLifetimeSeconds: envInt(env, 'ACCESS_TOKEN_LIFETIME_SECONDS', 300, { min: 10, max: 86_400 }),
    refreshTokenLifetimeSeconds: envInt(env, 'REFRESH_TOKEN_LIFETIME_SECONDS', 86_400, { min: 60, max: 90 * 86_400 }),
    /** A rotated refresh token presented again within this window gets the same answer (two tabs). */
    refreshReuseGraceSeconds: envInt(env, 'REFRESH_REUSE_GRACE_SECONDS', 10, { min: 0, max: 300 }),
    /**
     * How long a Redis revocation record is trusted before PostgreSQL is asked again. Bounds how long
     * another instance could serve a stale record when Redis took reads but lost a write.
     */
    revocationRecheckSeconds: envInt(env, 'REVOCATION_RECHECK_SECONDS', 60, { min: 1, max: 3600 }),
    /** Whether users who have not confirmed their e-mail address may log in (a login rule, not a mail setting). */
    allowUnverifiedLogin: envBool(env, 'ALLOW_UNVERIFIED_LOGIN', true),
    /**
     * Honour tokens the Django system issued (no `sid` claim; signed with its SECRET_KEY as
     * JWT_SIGNING_KEY) until they expire, and let their refresh open a session here. On by default so
     * a cutover logs no one out; switch it off once the last Django-issued refresh token has expired.
     */
    legacyTokens: envBool(env, 'LEGACY_TOKENS', true),
  };
}

export const authConfig = registerAs('auth', () => readAuthConfig(process.env));
export type AuthConfig = ReturnType<typeof readAuthConfig>;
