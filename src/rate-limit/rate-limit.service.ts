import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { throttled } from '../common/http/drf-errors.js';
import { rateLimitConfig } from '../config/rate-limit.config.js';
import { RedisService } from '../redis/redis.service.js';

/** Route groups with their own per-IP budget. */
export type RateLimitGroup = 'login' | 'register' | 'refresh' | 'password';

const ACCOUNT_WINDOW_SECONDS = 15 * 60;

/**
 * Brute-force limits kept in Redis, so they hold across all web instances (rate-limiter-flexible,
 * atomic counters). When Redis is unreachable each instance falls back to an in-memory limiter
 * with the same budget: limits get per-instance, requests do not fail.
 */
@Injectable()
export class RateLimitService {
  private readonly perIp = new Map<RateLimitGroup, RateLimiterAbstract>();
  private readonly accountFailures: RateLimiterAbstract;

  constructor(
    redis: RedisService,
    @Inject(rateLimitConfig.KEY) private readonly config: ConfigType<typeof rateLimitConfig>,
  ) {
    const limiter = (keyPrefix: string, points: number, duration: number) =>
      new RateLimiterRedis({
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
    this.accountFailures = limiter('rl:acct', config.accountFailures, ACCOUNT_WINDOW_SECONDS);
  }

  /** Counts one request of `group` from `ip`; throws 429 with Retry-After past the budget. */
  async hitIp(group: RateLimitGroup, ip: string | null): Promise<void> {
    if (!this.config.enabled) return;
    try {
      await this.perIp.get(group)!.consume(ip ?? 'unknown');
    } catch (rejection) {
      throw this.toThrottled(rejection);
    }
  }

  /**
   * Throws 429 when an account has had too many failed attempts (checked before the password);
   * otherwise returns how many it has had, so a success only resets a count that exists.
   */
  async assertAccountNotLocked(account: string): Promise<number> {
    if (!this.config.enabled) return 0;
    const state = await this.accountFailures.get(account.toLowerCase()).catch(() => null);
    if (state && state.consumedPoints >= this.config.accountFailures) {
      throw throttled(Math.max(1, Math.ceil(state.msBeforeNext / 1000)));
    }
    return state?.consumedPoints ?? 0;
  }

  /** Records a failed attempt against an account (whether or not it exists: no account probing). */
  async recordAccountFailure(account: string): Promise<void> {
    if (!this.config.enabled) return;
    await this.accountFailures.penalty(account.toLowerCase(), 1).catch(() => undefined);
  }

  async clearAccountFailures(account: string): Promise<void> {
    if (!this.config.enabled) return;
    await this.accountFailures.delete(account.toLowerCase()).catch(() => undefined);
  }

  private toThrottled(rejection: unknown) {
    if (rejection instanceof RateLimiterRes) return throttled(Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)));
    // Both Redis and the insurance limiter failed: do not turn a limiter fault into a 5xx.
    return throttled(1);
  }
}
