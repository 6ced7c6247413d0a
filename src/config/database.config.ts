import { registerAs } from '@nestjs/config';
import { ConfigError, type Env, envEnum, envInt, envList, envString } from './env.js';

export const DATABASE_SSL_MODES = ['off', 'require', 'verify-full'] as const;
export type DatabaseSslMode = (typeof DATABASE_SSL_MODES)[number];

function checkUrl(name: string, url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(name, 'is not a valid URL');
  }
  if (!['postgres:', 'postgresql:'].includes(parsed.protocol)) {
    throw new ConfigError(name, 'must start with postgres:// or postgresql://');
  }
  return url;
}

export function readDatabaseConfig(env: Env) {
  const url = checkUrl('DATABASE_URL', envString(env, 'DATABASE_URL', 'postgres://postgres@127.0.0.1:5432/auth'));
  const replicaVariable = env.DATABASE_REPLICA_URLS !== undefined ? 'DATABASE_REPLICA_URLS' : 'DATABASE_REPLICA_URL';
  const replicaUrls = envList(env, replicaVariable).map((replica) => checkUrl(replicaVariable, replica));
  // Heroku Postgres puts sslmode=require in its URL; honour it even without DATABASE_SSL.
  const urlAsksForSsl = /[?&]sslmode=(require|verify-ca|verify-full)/.test(url);
  const ssl = envEnum(env, 'DATABASE_SSL', DATABASE_SSL_MODES, urlAsksForSsl ? 'require' : 'off');
  return {
    url,
    replicaUrls,
    ssl,
    poolSize: envInt(env, 'DATABASE_POOL_SIZE', 10, { min: 1, max: 200 }),
    connectTimeoutMs: envInt(env, 'DATABASE_CONNECT_TIMEOUT_MS', 3000, { min: 100, max: 60_000 }),
    /** Server-side statement timeout, so a stuck query cannot hold a request forever. */
    statementTimeoutMs: envInt(env, 'DATABASE_STATEMENT_TIMEOUT_MS', 10_000, { min: 100, max: 600_000 }),
    /**
     * With replicas: after a write to a user's row, that user's reads wait for a replica that has
     * replayed the write (or go to the primary) for this long (read-your-writes).
     */
    readYourWritesSeconds: envInt(env, 'DATABASE_READ_YOUR_WRITES_SECONDS', 300, { min: 1, max: 86_400 }),
  };
}

/**
 * The one place the TLS options of a PostgreSQL connection are made (primary, replicas, the
 * migration CLI, the outbox listener): `off` is plain TCP, `require` is TLS without a certificate
 * check (Heroku Postgres), `verify-full` checks the certificate and host name.
 */
export function pgSsl(config: Pick<DatabaseConfig, 'ssl'>): false | { rejectUnauthorized: boolean } {
  return config.ssl === 'off' ? false : { rejectUnauthorized: config.ssl === 'verify-full' };
}

export const databaseConfig = registerAs('database', () => readDatabaseConfig(process.env));
export type DatabaseConfig = ReturnType<typeof readDatabaseConfig>;
