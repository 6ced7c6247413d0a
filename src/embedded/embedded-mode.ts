import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, type Env, envOptionalString, envString, isProduction } from '../config/env.js';

/** The project folder (this file is src/embedded/ or dist/embedded/). */
const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** What runs in this process instead of a server. */
export interface EmbeddedMode {
  /** DATABASE_URL unset: PostgreSQL is PGlite, in this process, with its data in `dataDir`/pg. */
  database: boolean;
  /** REDIS_URL unset: the Redis roles (revocation fast path, cache, rate limits, jobs) are in memory. */
  redis: boolean;
  /** DATA_DIR, absolute (default `.data/` in the project). */
  dataDir: string;
}

/**
 * Embedded mode, for a laptop with only Node: without DATABASE_URL, PostgreSQL runs in process
 * (PGlite); without REDIS_URL, the Redis roles do. Development and test only: in production (any
 * NODE_ENV but development/test) a missing variable stops the process and is named.
 */
export function readEmbeddedMode(env: Env): EmbeddedMode {
  return { database: isUnset(env, 'DATABASE_URL'), redis: isUnset(env, 'REDIS_URL'), dataDir: resolve(PROJECT_ROOT, envString(env, 'DATA_DIR', '.data')) };
}

/** Whether `variable` is unset, which embeds its server; in production that is refused, naming it. */
export function isUnset(env: Env, variable: 'DATABASE_URL' | 'REDIS_URL'): boolean {
  const unset = envOptionalString(env, variable) === undefined;
  if (unset && isProduction(env)) {
    throw new ConfigError(variable, 'is required in production (without it the service runs embedded, which is for development and test only)');
  }
  return unset;
}

export function isEmbedded(mode: EmbeddedMode): boolean {
  return mode.database || mode.redis;
}

/** A path for log lines: relative to the project when inside it (".data/pg"), else absolute. */
export function displayPath(path: string): string {
  const inProject = relative(PROJECT_ROOT, path);
  return inProject && !inProject.startsWith('..') ? inProject : path;
}
