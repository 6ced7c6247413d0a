import { createHash } from 'node:crypto';
import { Inject, Injectable, Optional } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { throttled } from '../common/http/drf-errors.js';
import { rateLimitConfig } from '../config/rate-limit.config.js';
import { Metrics, type RateLimitScope } from '../metrics/metrics.js';
import { RedisService } from '../redis/redis.service.js';

/** Route groups with their own per-IP budget. */
export type RateLimitGroup = 'login' | 'register' | 'refresh' | 'password';

/** E-mails a stranger can make the service send to an address, each with its own per-address budget. */
export type MailKind = 'password-reset' | 'verify-email';

/** A password check that holds one point of each login budget; a success gives them back. */
/** The metrics scope of each per-IP budget (one constant string each: nothing built per request). */
const IP_SCOPES = { login: 'ip_login', register: 'ip_register', refresh: 'ip_refresh', password: 'ip_password' } as const satisfies Record<
  RateLimitGroup,
  RateLimitScope
>;

export interface LoginAttempt {
  succeeded(): Promise<void>;
}

const NOTHING_HELD: LoginAttempt = { succeeded: async () => undefined };

/**
 * Redis key part for a value that must not sit in Redis in clear (an identifier, an address):
 * 128 bits of its SHA-256.
 */
export const keyDigest = (value: string) => createHash('sha256').update(value).digest('hex').slice(0, 32);

/**
 * Brute-force limits kept in Redis, so they hold across all web instances (rate-limiter-flexible,
 * atomic counters). When Redis is unreachable each instance falls back to an in-memory limiter
 * with the same budget: limits get per-instance, requests do not fail.
 */
@Injectable()
export class RateLimitService {
  private readonly perIp = new Map<RateLimitGroup, RateLimiterAbstract>();
  private readonly loginPerAccountAndIp: RateLimiterAbstract;
  private readonly loginPerAccount: RateLimiterAbstract;
  private readonly mailPerAddress = new Map<MailKind, RateLimiterAbstract>();

  constructor(
    @Inject(rateLimitConfig.KEY) private readonly config: ConfigType<typeof rateLimitConfig>,
    private readonly metrics: Metrics,
    // Embedded-mode hook: without REDIS_URL (development/test) there is no RedisService and every
    // budget is rate-limiter-flexible's memory limiter, in this process only (src/embedded/).
    @Optional() redis?: RedisService,
  ) {
    const limiter = (keyPrefix: string, points: number, duration: number) =>
      !redis ? new RateLimiterMemory({ keyPrefix, points, duration }) : new RateLimiterRedis({
        storeClient: redis.client,
        keyPrefix,
        points,
        duration,
        rejectIfRedisNotReady: true,
        insuranceLimiter: new RateLimiterMemory({ keyPrefix, points, duration }),
      });
    for (const group of ['login', 'register', 'refresh', 'password'] as const) {
      this.perIp.set(group, limiter(`rl:ip:${group}`, config.ipPerMinute, 60));
    }
    this.loginPerAccountAndIp = limiter('rl:acct-ip', config.loginAccountIpAttempts, config.loginWindowSeconds);
    this.loginPerAccount = limiter('rl:acct', config.loginAccountAttempts, config.loginWindowSeconds);
    for (const kind of ['password-reset', 'verify-email'] as const) {
      this.mailPerAddress.set(kind, limiter(`rl:mail:${kind}`, config.mailPerAddress, config.mailWindowSeconds));
    }
  }

  /**
   * Whether one more e-mail of `kind` may go to `address` (taken atomically: true takes a point).
   * The answer to the client does not change either way (still 202), so it tells nothing; the budget
   * is per address whether or not an account has it. Redis sees a digest of the address. A limiter
   * that cannot answer at all counts as spent: no e-mail rather than a flood.
   */
  async allowMail(kind: MailKind, address: string): Promise<boolean> {
    if (!this.config.enabled) return true;
    try {
      await this.mailPerAddress.get(kind)!.consume(keyDigest(address.toLowerCase()));
      return true;
    } catch {
      this.metrics.rateLimited('mail_address');
      return false;
    }
  }

  /** Counts one request of `group` from `ip`; throws 429 with Retry-After past the budget. */
  async hitIp(group: RateLimitGroup, ip: string | null): Promise<void> {
    if (!this.config.enabled) return;
    try {
      await this.perIp.get(group)!.consume(ip ?? 'unknown');
    } catch (rejection) {
      this.metrics.rateLimited(IP_SCOPES[group]);
      throw this.toThrottled(rejection);
    }
  }

  /**
   * Takes one point from each login budget of `identifier` — the tight one of (identifier, client
   * IP), then the looser one of the identifier — before any password is checked, in one atomic
   * Redis step each, so however many requests run at once on however many instances, no more
   * passwords are judged than the budgets allow. Throws 429 with Retry-After when either is spent
   * (a point taken from the first is given back when the second refuses: nothing was judged).
   * The points stay taken for a failure, whether or not the account exists; `succeeded()` gives them
   * back. The tight budget keeps one client from locking a user out from everywhere.
   *
   * `identifier` is the login identifier as typed, normalised (loginKey), never the account it names:
   * keyed by account, a 429 on the e-mail after guesses on the username would tell an attacker that
   * the two are one account. Redis sees a digest of it, not the identifier.
   */
  async takeLoginAttempt(identifier: string, ip: string | null): Promise<LoginAttempt> {
    if (!this.config.enabled) return NOTHING_HELD;
    const account = keyDigest(identifier);
    const accountAndIp = `${account}:${ip ?? 'unknown'}`;
    try {
      await this.loginPerAccountAndIp.consume(accountAndIp);
    } catch (rejection) {
      this.metrics.rateLimited('login_account_ip');
      throw this.toThrottled(rejection);
    }
    try {
      await this.loginPerAccount.consume(account);
    } catch (rejection) {
      await this.loginPerAccountAndIp.reward(accountAndIp).catch(() => undefined);
      this.metrics.rateLimited('login_account');
      throw this.toThrottled(rejection);
    }
    return {
      succeeded: async () => {
        await Promise.all([
          this.loginPerAccountAndIp.reward(accountAndIp).catch(() => undefined),
          this.loginPerAccount.reward(account).catch(() => undefined),
        ]);
      },
    };
  }

  private toThrottled(rejection: unknown) {
    if (rejection instanceof RateLimiterRes) return throttled(Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)));
    // Both Redis and the insurance limiter failed: do not turn a limiter fault into a 5xx.
    return throttled(1);
  }
}
