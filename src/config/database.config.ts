import { registerAs } from '@nestjs/config';
import { ConfigError, type Env, envEnum, envInt, envList, envOptionalString, envString, isProduction } from './env.js';

export const DATABASE_SSL_MODES = ['off', 'require', 'verify-full'] as const;
export type DatabaseSslMode = (typeof DATABASE_SSL_MODES)[number];

/**
 * libpq's `sslmode` values this service understands, and what each means here. `require` is TLS
 * without a certificate check, as in libpq (pg 8 would read it as verify-full, which fails against
 * Heroku Postgres's self-signed certificate). `prefer`/`allow` (fall back to plain text) and
 * `verify-ca` (CA check without the host name) have no pg equivalent: they are refused, not guessed.
 */
const URL_SSLMODES: Record<string, DatabaseSslMode> = { disable: 'off', require: 'require', 'verify-full': 'verify-full' };

/**
 * Other TLS parameters pg-connection-string would act on, each of which replaces our `ssl` options
 * (certificate files read from disk, libpq-compat switches). DATABASE_SSL is the one switch; a
 * private CA goes in NODE_EXTRA_CA_CERTS.
 */
const REFUSED_URL_PARAMETERS = ['ssl', 'sslcert', 'sslkey', 'sslrootcert', 'sslcrl', 'sslpassword', 'sslnegotiation', 'uselibpqcompat'];

interface ParsedUrl {
  /** The URL as pg gets it: without `sslmode`, so pg cannot turn it into its own `ssl` options. */
  url: string;
  /** What the URL's `sslmode` asked for, if it had one. */
  sslmode?: DatabaseSslMode;
}

function parseUrl(name: string, url: string): ParsedUrl {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(name, 'is not a valid URL');
  }
  if (!['postgres:', 'postgresql:'].includes(parsed.protocol)) {
    throw new ConfigError(name, 'must start with postgres:// or postgresql://');
  }
  for (const parameter of REFUSED_URL_PARAMETERS) {
    if (parsed.searchParams.has(parameter)) {
      throw new ConfigError(name, `the URL parameter "${parameter}" is not supported: set DATABASE_SSL (off, require, verify-full) instead`);
    }
  }
  const sslmode = parsed.searchParams.get('sslmode');
  if (sslmode === null) return { url };
  const mode = URL_SSLMODES[sslmode];
  if (mode === undefined) {
    throw new ConfigError(name, `sslmode=${sslmode} is not supported: use sslmode=disable, require or verify-full, or set DATABASE_SSL`);
  }
  parsed.searchParams.delete('sslmode');
  return { url: parsed.toString(), sslmode: mode };
}

/**
 * TLS to PostgreSQL, one mode for the primary and every replica: DATABASE_SSL when set, else the
 * URLs' `sslmode` (they must agree), else `require` in production (Heroku Postgres: TLS is
 * mandatory, its certificate is self-signed and its DATABASE_URL has no sslmode) and `off` in
 * development and test.
 */
function sslModeFrom(env: Env, urls: { name: string; parsed: ParsedUrl }[]): DatabaseSslMode {
  const fromUrls = [...new Set(urls.map(({ parsed }) => parsed.sslmode).filter((mode) => mode !== undefined))];
  if (envOptionalString(env, 'DATABASE_SSL') === undefined && fromUrls.length > 1) {
    throw new ConfigError(urls.find(({ parsed }) => parsed.sslmode)!.name, 'the database URLs ask for different sslmode values; set DATABASE_SSL');
  }
  return envEnum(env, 'DATABASE_SSL', DATABASE_SSL_MODES, fromUrls[0] ?? (isProduction(env) ? 'require' : 'off'));
}

export function readDatabaseConfig(env: Env) {
  const primary = parseUrl('DATABASE_URL', envString(env, 'DATABASE_URL', 'postgres://postgres@127.0.0.1:5432/auth'));
  const replicaVariable = env.DATABASE_REPLICA_URLS !== undefined ? 'DATABASE_REPLICA_URLS' : 'DATABASE_REPLICA_URL';
  const replicas = envList(env, replicaVariable).map((replica) => parseUrl(replicaVariable, replica));
  const ssl = sslModeFrom(env, [
    { name: 'DATABASE_URL', parsed: primary },
    ...replicas.map((parsed) => ({ name: replicaVariable, parsed })),
  ]);
  return {
    /** The primary's URL, with any `sslmode` taken out (it is in `ssl`). */
    url: primary.url,
    replicaUrls: replicas.map((replica) => replica.url),
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

export const databaseConfig = registerAs('database', () => readDatabaseConfig(process.env));
export type DatabaseConfig = ReturnType<typeof readDatabaseConfig>;

/**
 * The one place the `ssl` option of a PostgreSQL connection is made — the primary's pool, the replica
 * pools, the outbox listener, the migrations CLI — so they cannot disagree. The URLs in
 * DatabaseConfig carry no `sslmode` (readDatabaseConfig takes it out), so pg uses exactly this.
 *
 * `require`: TLS, certificate not checked (Heroku Postgres's is self-signed). `verify-full`: the
 * certificate must chain to a trusted CA (Node's, plus NODE_EXTRA_CA_CERTS) and name the host.
 */
export function pgSsl(config: Pick<DatabaseConfig, 'ssl'>): false | { rejectUnauthorized: boolean } {
  if (config.ssl === 'off') return false;
  return { rejectUnauthorized: config.ssl === 'verify-full' };
}
