import { registerAs } from '@nestjs/config';
import { type Env, envBool, envInt } from './env.js';

export function readRateLimitConfig(env: Env) {
  return {
    enabled: envBool(env, 'RATE_LIMIT_ENABLED', true),
    /** Requests per client IP per minute, counted separately for each limited route group. */
    ipPerMinute: envInt(env, 'RATE_LIMIT_IP_PER_MINUTE', 30, { min: 1 }),
    /** Failed logins (or password checks) per account per 15 minutes before the account is throttled. */
    accountFailures: envInt(env, 'RATE_LIMIT_ACCOUNT_FAILURES', 10, { min: 1 }),
  };
}

export const rateLimitConfig = registerAs('rateLimit', () => readRateLimitConfig(process.env));
export type RateLimitConfig = ReturnType<typeof readRateLimitConfig>;
