import { registerAs } from '@nestjs/config';
import { ConfigError, type Env, envOptionalString, isProduction } from './env.js';

/** A bearer token shorter than this is refused in production: it guards what the service is doing. */
export const MIN_METRICS_TOKEN_LENGTH = 16;

export function readMetricsConfig(env: Env) {
  const token = envOptionalString(env, 'METRICS_TOKEN');
  if (token !== undefined && isProduction(env) && token.length < MIN_METRICS_TOKEN_LENGTH) {
    throw new ConfigError('METRICS_TOKEN', `must be at least ${MIN_METRICS_TOKEN_LENGTH} characters in production`);
  }
  return {
    /** Bearer token that GET /metrics requires; unset: no metrics are kept and /metrics is 404. */
    token,
  };
}

export const metricsConfig = registerAs('metrics', () => readMetricsConfig(process.env));
export type MetricsConfig = ReturnType<typeof readMetricsConfig>;
