import { registerAs } from '@nestjs/config';
import { type Env, envBool, envEnum, envInt, envString, isProduction } from './env.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'] as const;
export type LogLevelSetting = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['json', 'text'] as const;

export function readAppConfig(env: Env) {
  const production = isProduction(env);
  return {
    production,
    host: envString(env, 'HOST', '0.0.0.0'),
    port: envInt(env, 'PORT', 3000, { min: 0, max: 65535 }),
    logLevel: envEnum(env, 'LOG_LEVEL', LOG_LEVELS, production ? 'log' : 'debug'),
    /** `json`: one pino JSON object per line, secrets redacted (production); `text`: Nest's readable lines. */
    logFormat: envEnum(env, 'LOG_FORMAT', LOG_FORMATS, production ? 'json' : 'text'),
    /** Largest accepted request body, in bytes. */
    bodyLimit: envInt(env, 'BODY_LIMIT_BYTES', 16 * 1024, { min: 1024, max: 10 * 1024 * 1024 }),
    /** How many reverse proxies in front of the app may set X-Forwarded-For (Heroku's router is one). */
    trustProxyHops: envInt(env, 'TRUST_PROXY_HOPS', 0, { min: 0, max: 10 }),
    /** Grace period for in-flight requests on SIGTERM (Heroku sends SIGKILL 30 s after SIGTERM). */
    shutdownGraceMs: envInt(env, 'SHUTDOWN_GRACE_MS', 10_000, { min: 0, max: 29_000 }),
    /** The OpenAPI document at /api/schema/ (off by default in production: it maps the attack surface). */
    swaggerEnabled: envBool(env, 'SWAGGER_ENABLED', !production),
    /** Swagger UI at /api/docs (off by default in production). */
    swaggerUiEnabled: envBool(env, 'SWAGGER_UI_ENABLED', !production),
    /** TTL of the per-user GET response cache (GET /api/me/), in seconds; 0 turns it off. */
    responseCacheTtlSeconds: envInt(env, 'RESPONSE_CACHE_TTL_SECONDS', 60, { min: 0, max: 3600 }),
  };
}

export const appConfig = registerAs('app', () => readAppConfig(process.env));
export type AppConfig = ReturnType<typeof readAppConfig>;

/** Nest's logger takes the list of enabled levels; LOG_LEVEL names the least severe one kept. */
export function logLevelsFrom(level: LogLevelSetting): LogLevelSetting[] {
  return LOG_LEVELS.slice(0, LOG_LEVELS.indexOf(level) + 1) as LogLevelSetting[];
}
