import { CacheInterceptor } from '@nestjs/cache-manager';
import { type CallHandler, type ExecutionContext, Inject, Injectable, Logger } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { FastifyRequest } from 'fastify';
import { type Observable, of, tap } from 'rxjs';
import type { AuthenticatedUser } from '../common/decorators/authenticated-user.js';
import { appConfig } from '../config/app.config.js';
import { RedisKeys } from '../redis/redis-keys.js';
import { decodeCacheEntry, type ResponsePrefetch } from './response-prefetch.js';

type CachedRequest = FastifyRequest & { user?: AuthenticatedUser } & ResponsePrefetch;

/**
 * Response cache for authenticated GET routes (use @CachePerUser()). The key includes the user id,
 * so one user's response is never served to another; other methods and anonymous requests are not
 * cached. When the JWT guard already read the entry (same Redis round trip as the revocation
 * check), that answer is used; otherwise Nest's CacheInterceptor asks the cache. Invalidate with
 * `RedisKeys.response(userId, route)` when the user changes.
 */
@Injectable()
export class UserCacheInterceptor extends CacheInterceptor {
  @Inject(appConfig.KEY) private readonly app: ConfigType<typeof appConfig>;

  protected override trackBy(context: ExecutionContext): string | undefined {
    const request = context.switchToHttp().getRequest<CachedRequest>();
    // RESPONSE_CACHE_TTL_SECONDS=0 turns the response cache off.
    if (request.method !== 'GET' || !request.user || this.app.responseCacheTtlSeconds === 0) return undefined;
    return RedisKeys.response(request.user.id, request.routeOptions.url ?? request.url);
  }

  override async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const request = context.switchToHttp().getRequest<CachedRequest>();
    const key = this.trackBy(context);
    if (!key || request.prefetchedResponse === undefined) return super.intercept(context, next);
    const cached = request.prefetchedResponse === null ? undefined : decodeCacheEntry(request.prefetchedResponse);
    if (cached !== undefined) return of(cached);
    return next.handle().pipe(
      tap((response) => {
        // A cache write that fails is only a miss next time.
        this.cacheManager.set(key, response).catch((error: Error) => Logger.warn(`response cache write failed: ${error.message}`, 'UserCacheInterceptor'));
      }),
    );
  }
}
