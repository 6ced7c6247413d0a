import { registerAs } from '@nestjs/config';
import { type Env, envBool, envInt } from './env.js';

/**
 * NIST SP 800-63B caps failed attempts on one account at 100. An account has two login
 * identifiers (username and e-mail), each with its own budget, so each budget is at most 50 by
 * default and 100 at most.
 */
export const NIST_MAX_FAILED_ATTEMPTS = 100;

export function readRateLimitConfig(env: Env) {
  return {
    enabled: envBool(env, 'RATE_LIMIT_ENABLED', true),
    /** Requests per client IP per minute, counted separately for each limited route group. */
    ipPerMinute: envInt(env, 'RATE_LIMIT_IP_PER_MINUTE', 30, { min: 1 }),
    /** Password checks per login identifier and client IP per window: the tight budget. */
    loginAccountIpAttempts: envInt(env, 'RATE_LIMIT_LOGIN_ACCOUNT_IP_ATTEMPTS', 10, { min: 1, max: NIST_MAX_FAILED_ATTEMPTS }),
    /** Password checks per login identifier per window, whatever the client: the looser budget. */
    loginAccountAttempts: envInt(env, 'RATE_LIMIT_LOGIN_ACCOUNT_ATTEMPTS', 50, { min: 1, max: NIST_MAX_FAILED_ATTEMPTS }),
    /** Window of both login budgets, in seconds. */
    loginWindowSeconds: envInt(env, 'RATE_LIMIT_LOGIN_WINDOW_SECONDS', 900, { min: 60, max: 86_400 }),
    /** Reset (and, separately, verification) e-mails per address per mail window; requests past it still get 202. */
    mailPerAddress: envInt(env, 'RATE_LIMIT_MAIL_PER_ADDRESS', 3, { min: 1, max: 1000 }),
    mailWindowSeconds: envInt(env, 'RATE_LIMIT_MAIL_WINDOW_SECONDS', 3600, { min: 60, max: 7 * 86_400 }),
  };
}

export const rateLimitConfig = registerAs('rateLimit', () => readRateLimitConfig(process.env));
export type RateLimitConfig = ReturnType<typeof readRateLimitConfig>;
