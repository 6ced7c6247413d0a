import { applyDecorators, SetMetadata, UseInterceptors } from '@nestjs/common';
import { UserCacheInterceptor } from './user-cache.interceptor.js';

export const CACHE_PER_USER = 'cachePerUser';

/**
 * Caches a GET route's response per user in Redis (UserCacheInterceptor). The JWT guard reads the
 * cache entry in the same Redis round trip as its revocation check (same hash tag), so a cached
 * answer costs one Redis command in all.
 */
export const CachePerUser = () => applyDecorators(SetMetadata(CACHE_PER_USER, true), UseInterceptors(UserCacheInterceptor));
