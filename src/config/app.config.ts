import { registerAs } from '@nestjs/config';
import { ConfigError, type Env, envBool, envEnum, envInt, envList, envString, isProduction } from './env.js';

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
    /** Browser origins allowed to call the API (CORS), exactly as a browser sends them; none by default. */
    corsOrigins: readCorsOrigins(env),
  };
}

/**
 * CORS_ORIGINS: comma-separated exact origins (`https://app.example.com`, `http://localhost:5173`).
 * Each must be a bare origin — scheme, host and optional port, nothing else — because the browser's
 * Origin header is compared with it character for character: a trailing slash or a path would
 * never match and silently block the front end. `*` is refused: the API allows credentials, and a
 * wildcard with credentials would let any site call it with the user's credentials.
 */
function readCorsOrigins(env: Env): string[] {
  return envList(env, 'CORS_ORIGINS').map((origin) => {
    if (origin.includes('*')) {
      throw new ConfigError('CORS_ORIGINS', `"${origin}": wildcards are not allowed (credentials are allowed); list each origin`);
    }
    let parsed: URL;
    try {
      parsed = new URL(origin);
    } catch {
      throw new ConfigError('CORS_ORIGINS', `"${origin}" is not an origin (expected scheme://host[:port])`);
    }
    if (!['http:', 'https:'].includes(parsed.protocol)) {
      throw new ConfigError('CORS_ORIGINS', `"${origin}" is not an http(s) origin`);
    }
    if (parsed.origin !== origin) {
      const rules = 'no path, no trailing slash, lower-case host, default port omitted';
      throw new ConfigError('CORS_ORIGINS', `"${origin}" is not a bare origin: expected "${parsed.origin}" (${rules})`);
    }
    return origin;
  });
}

export const appConfig = registerAs('app', () => readAppConfig(process.env));
export type AppConfig = ReturnType<typeof readAppConfig>;

/** Nest's logger takes the list of enabled levels; LOG_LEVEL names the least severe one kept. */
export function logLevelsFrom(level: LogLevelSetting): LogLevelSetting[] {
  return LOG_LEVELS.slice(0, LOG_LEVELS.indexOf(level) + 1) as LogLevelSetting[];
}
