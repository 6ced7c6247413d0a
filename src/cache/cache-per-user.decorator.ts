import { applyDecorators, SetMetadata, UseInterceptors } from '@nestjs/common';
import { ResponseCacheInterceptor } from './response-cache.interceptor.js';
import { CACHE_PER_USER } from './response-cache.service.js';

/**
 * Caches a GET route's response per user in Redis (ResponseCache). The route joins the registry
 * that `ResponseCache.invalidateUser` clears, and the global guard reads its entry in the same
 * Redis round trip as the revocation check, so a cached answer costs one Redis command in all.
 */
export const CachePerUser = () => applyDecorators(SetMetadata(CACHE_PER_USER, true), UseInterceptors(ResponseCacheInterceptor));
