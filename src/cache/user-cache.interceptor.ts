import { CacheInterceptor } from '@nestjs/cache-manager';
import { Inject, Injectable, type ExecutionContext } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { appConfig } from '../config/app.config.js';
import type { FastifyRequest } from 'fastify';
import type { AuthenticatedUser } from '../common/decorators/authenticated-user.js';
import { RedisKeys } from '../redis/redis-keys.js';

/**
 * Response cache for authenticated GET routes. The key includes the user id, so one user's
 * response is never served to another; anything else (other methods, anonymous requests) is not
 * cached. Invalidate with `RedisKeys.response(userId, url)` when the user changes.
 */
@Injectable()
export class UserCacheInterceptor extends CacheInterceptor {
  @Inject(appConfig.KEY) private readonly app: ConfigType<typeof appConfig>;

  protected override trackBy(context: ExecutionContext): string | undefined {
    const request = context.switchToHttp().getRequest<FastifyRequest & { user?: AuthenticatedUser }>();
    // RESPONSE_CACHE_TTL_SECONDS=0 turns the response cache off.
    if (request.method !== 'GET' || !request.user || this.app.responseCacheTtlSeconds === 0) return undefined;
    return RedisKeys.response(request.user.id, request.routeOptions.url ?? request.url);
  }
}
