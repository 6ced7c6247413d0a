import { Inject, Injectable, Logger, type OnModuleInit, Optional } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { PATH_METADATA } from '@nestjs/common/constants.js';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import type { ExecutionContext } from '@nestjs/common';
import type { ReadAlong } from '../common/auth/read-along.js';
import { ExpiringMap } from '../common/memory/expiring-map.js';
import { appConfig } from '../config/app.config.js';
import { RedisService } from '../redis/redis.service.js';

/** Metadata of `@CachePerUser()` handlers. */
export const CACHE_PER_USER = 'cachePerUser';

/**
 * The key of a user's cached answer of a route: the user id is in it (no answer crosses users) as
 * the hash tag, so the revocation records and the entry are read in one MGET on Redis Cluster too.
 * `route` is the route path without its trailing slash ("/api/me").
 */
export const responseCacheKey = (userId: number, route: string) => `resp:{${userId}}:${route}`;

/** "api" + "me/" → "/api/me" (the trailing slash dropped, so "/api/me/" and "/api/me" share a key). */
const routeOf = (...parts: Array<string | string[] | undefined>) =>
  `/${parts
    .flatMap((part) => (Array.isArray(part) ? part.slice(0, 1) : [part ?? '']))
    .map((part) => part.replace(/^\/+|\/+$/g, ''))
    .filter(Boolean)
    .join('/')}`;

/**
 * A request's share of the read along the revocation check: the cache entry of its route and user.
 * `value` stays undefined when nothing was read (Redis did not answer): the interceptor then asks.
 */
export class ResponsePrefetch implements ReadAlong {
  value: string | null | undefined;

  constructor(readonly route: string) {}

  keysFor(userId: number): readonly string[] {
    return [responseCacheKey(userId, this.route)];
  }

  received(values: ReadonlyArray<string | null> | undefined): void {
    this.value = values?.[0];
  }
}

/**
 * The per-user response cache, whole: which routes use it (the registry of `@CachePerUser()`
 * handlers, found at boot), their keys, the values (the response body as plain JSON, written and
 * read with the shared Redis client — no cache-manager envelope), and dropping a user's entries.
 * Every Redis failure is a miss, never an error. In embedded mode without REDIS_URL the entries are
 * kept in this process's memory instead (one instance), with the same keys and TTL.
 */
@Injectable()
export class ResponseCache implements OnModuleInit {
  private readonly logger = new Logger(ResponseCache.name);
  /** @CachePerUser() handler → its route path. */
  private readonly routes = new Map<unknown, string>();
  /** The entries when there is no Redis (embedded mode), else undefined. */
  private readonly memory: ExpiringMap | undefined;

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    @Inject(appConfig.KEY) private readonly app: ConfigType<typeof appConfig>,
    // Absent in embedded mode without REDIS_URL (CoreModule loads no Redis client).
    @Optional() private readonly redis?: RedisService,
  ) {
    this.memory = redis ? undefined : new ExpiringMap();
  }

  /** Builds the registry from the loaded controllers (a process without controllers, the worker, has none). */
  onModuleInit(): void {
    for (const wrapper of this.discovery.getControllers()) {
      const { instance, metatype } = wrapper;
      if (!instance || !metatype) continue;
      const prototype = Object.getPrototypeOf(instance) as Record<string, unknown>;
      for (const name of this.scanner.getAllMethodNames(prototype)) {
        const handler = prototype[name] as (...args: unknown[]) => unknown;
        if (!this.reflector.get<boolean>(CACHE_PER_USER, handler)) continue;
        this.routes.set(handler, routeOf(Reflect.getMetadata(PATH_METADATA, metatype), Reflect.getMetadata(PATH_METADATA, handler)));
      }
    }
  }

  /** The routes that cache per user, as keyed. */
  get cachedRoutes(): string[] {
    return [...new Set(this.routes.values())];
  }

  get enabled(): boolean {
    // RESPONSE_CACHE_TTL_SECONDS=0 turns the response cache off.
    return this.app.responseCacheTtlSeconds > 0;
  }

  /** The route of a cacheable request (a GET to a @CachePerUser() handler), else undefined. */
  routeFor(context: ExecutionContext): string | undefined {
    if (!this.enabled) return undefined;
    const route = this.routes.get(context.getHandler());
    return route && context.switchToHttp().getRequest<{ method: string }>().method === 'GET' ? route : undefined;
  }

  /** What the guard asks to read along the revocation check for this request, if anything. */
  prefetchFor(context: ExecutionContext): ResponsePrefetch | undefined {
    const route = this.routeFor(context);
    return route ? new ResponsePrefetch(route) : undefined;
  }

  /** The raw entry (null: none), or undefined when Redis did not answer. */
  async read(userId: number, route: string): Promise<string | null | undefined> {
    if (this.memory) return this.memory.get(responseCacheKey(userId, route));
    try {
      return await this.redis!.client.get(responseCacheKey(userId, route));
    } catch {
      return undefined;
    }
  }

  /** The cached body of a raw entry; anything unreadable is a miss. */
  decode(raw: string | null | undefined): unknown {
    if (!raw) return undefined;
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      return undefined;
    }
  }

  async write(userId: number, route: string, body: unknown): Promise<void> {
    if (this.memory) return this.memory.set(responseCacheKey(userId, route), JSON.stringify(body), this.app.responseCacheTtlSeconds);
    try {
      await this.redis!.client.set(responseCacheKey(userId, route), JSON.stringify(body), 'EX', this.app.responseCacheTtlSeconds);
    } catch (error) {
      // A cache write that fails is only a miss next time.
      this.logger.warn(`response cache write failed: ${(error as Error).message}`);
    }
  }

  /**
   * Drops every cached answer of a user (one DEL: the keys share the user's hash tag). Call it after
   * any change that a cached answer shows, before the change is visible.
   */
  async invalidateUser(userId: number): Promise<void> {
    const keys = this.cachedRoutes.map((route) => responseCacheKey(userId, route));
    if (keys.length === 0) return;
    if (this.memory) return this.memory.delete(...keys);
    await this.redis!.client.del(...keys).catch(() => 0);
  }
}
