import { registerAs } from '@nestjs/config';
import { ConfigError, type Env, envBool, envInt, envString } from './env.js';

/** One Redis URL, parsed once: what every connection (the client, BullMQ, Cluster nodes) is built from. */
export interface RedisEndpoint {
  host: string;
  port: number;
  username: string | undefined;
  password: string | undefined;
  /** Database number (the URL's path); always 0 on Redis Cluster. */
  db: number;
  /** rediss:// */
  tls: boolean;
}

/** The one Redis URL parser: `redis[s]://[user[:password]@]host[:port][/db]`. */
export function parseRedisUrl(url: string, variable = 'REDIS_URL'): RedisEndpoint {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(variable, 'is not a valid URL');
  }
  if (!['redis:', 'rediss:'].includes(parsed.protocol)) {
    throw new ConfigError(variable, 'must start with redis:// or rediss://');
  }
  const db = parsed.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d{1,2}$/.test(db)) throw new ConfigError(variable, `database "${db}" is not a number`);
  return {
    host: parsed.hostname,
    port: Number(parsed.port || 6379),
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    db: Number(db || 0),
    tls: parsed.protocol === 'rediss:',
  };
}

export function readRedisConfig(env: Env) {
  const urls = envString(env, 'REDIS_URL', 'redis://127.0.0.1:6379/0')
    .split(',')
    .map((url) => url.trim())
    .filter(Boolean);
  const endpoints = urls.map((url) => parseRedisUrl(url));
  const keyPrefix = envString(env, 'REDIS_KEY_PREFIX', 'auth:');
  if (/[{}]/.test(keyPrefix)) {
    throw new ConfigError('REDIS_KEY_PREFIX', 'must not contain { or } (they would break Redis Cluster hash tags)');
  }
  const cluster = envBool(env, 'REDIS_CLUSTER', false);
  if (!cluster && urls.length > 1) {
    throw new ConfigError('REDIS_URL', 'several URLs are only allowed with REDIS_CLUSTER=true');
  }
  return {
    /** REDIS_URL, parsed: one endpoint, or the seed nodes with REDIS_CLUSTER=true. */
    endpoints,
    cluster,
    keyPrefix,
    /** Heroku Redis uses self-signed certificates: set REDIS_TLS_REJECT_UNAUTHORIZED=false there. */
    tlsRejectUnauthorized: envBool(env, 'REDIS_TLS_REJECT_UNAUTHORIZED', true),
    /** A hung Redis must not hang requests: every command gives up after this long. */
    commandTimeoutMs: envInt(env, 'REDIS_COMMAND_TIMEOUT_MS', 500, { min: 10, max: 60_000 }),
    connectTimeoutMs: envInt(env, 'REDIS_CONNECT_TIMEOUT_MS', 2000, { min: 100, max: 60_000 }),
    /** Send the commands of concurrent requests issued in the same tick in one write (ioredis). */
    autoPipelining: envBool(env, 'REDIS_AUTO_PIPELINING', true),
  };
}

export const redisConfig = registerAs('redis', () => readRedisConfig(process.env));
export type RedisConfig = ReturnType<typeof readRedisConfig>;
