import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import { type Observable, of, tap } from 'rxjs';
import type { Principal } from '../common/auth/principal.js';
import { readAlongOf } from '../common/auth/read-along.js';
import { ResponseCache, ResponsePrefetch } from './response-cache.service.js';

/**
 * Serves and fills the per-user response cache of a `@CachePerUser()` GET route. The entry was
 * usually read already, in the guard's revocation MGET (ResponsePrefetch); only when Redis did not
 * answer then is it asked here. Anonymous requests and other methods are not cached.
 */
@Injectable()
export class ResponseCacheInterceptor implements NestInterceptor {
  constructor(private readonly cache: ResponseCache) {}

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const request = context.switchToHttp().getRequest<{ user?: Principal }>();
    const route = this.cache.routeFor(context);
    const userId = request.user?.userId;
    if (!route || userId === undefined) return next.handle();
    const prefetch = readAlongOf(request);
    const raw = prefetch instanceof ResponsePrefetch && prefetch.value !== undefined ? prefetch.value : await this.cache.read(userId, route);
    const cached = this.cache.decode(raw);
    if (cached !== undefined) return of(cached);
    return next.handle().pipe(tap((body) => void this.cache.write(userId, route, body)));
  }
}
