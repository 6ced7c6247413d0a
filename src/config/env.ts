/**
 * Typed readers for environment variables. Every reader names the variable in its error, so a
 * misconfigured deploy fails at boot with a message an operator can act on.
 */
export type Env = Record<string, string | undefined>;

export class ConfigError extends Error {
  constructor(variable: string, problem: string) {
    super(`Invalid environment variable ${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

function raw(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

export function envString(env: Env, name: string, fallback: string): string {
  return raw(env, name) ?? fallback;
}

export function envOptionalString(env: Env, name: string): string | undefined {
  return raw(env, name);
}

export function envInt(env: Env, name: string, fallback: number, bounds: { min?: number; max?: number } = {}): number {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (!/^-?\d+$/.test(value)) throw new ConfigError(name, `expected an integer, got "${value}"`);
  const parsed = Number(value);
  if (bounds.min !== undefined && parsed < bounds.min) throw new ConfigError(name, `must be >= ${bounds.min}`);
  if (bounds.max !== undefined && parsed > bounds.max) throw new ConfigError(name, `must be <= ${bounds.max}`);
  return parsed;
}

export function envBool(env: Env, name: string, fallback: boolean): boolean {
  const value = raw(env, name)?.toLowerCase();
  if (value === undefined) return fallback;
  if (['1', 'true', 'yes', 'on'].includes(value)) return true;
  if (['0', 'false', 'no', 'off'].includes(value)) return false;
  throw new ConfigError(name, `expected true or false, got "${value}"`);
}

export function envEnum<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(name, `expected one of ${allowed.join(', ')}, got "${value}"`);
  }
  return value as T;
}

export function envList(env: Env, name: string): string[] {
  const value = raw(env, name);
  return value === undefined ? [] : value.split(',').map((item) => item.trim()).filter(Boolean);
}

/** The NODE_ENV values that switch the production checks off; anything else (unset, a typo) is production. */
export const NON_PRODUCTION_ENVIRONMENTS = ['development', 'test'] as const;

/**
 * Production unless NODE_ENV is exactly `development` or `test`. Failing closed: a deploy that
 * forgot NODE_ENV, or wrote `Production`, still gets the production checks.
 */
export function isProduction(env: Env): boolean {
  const value = raw(env, 'NODE_ENV');
  return !(NON_PRODUCTION_ENVIRONMENTS as readonly string[]).includes(value ?? '');
}
