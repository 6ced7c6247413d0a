import { CacheModule } from '@nestjs/cache-manager';
import { Global, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import type { ConfigType } from '@nestjs/config';
import { KeyvAdapter } from 'cache-manager';
import { redisInsStore } from 'cache-manager-ioredis-yet';
import { Keyv } from 'keyv';
import { appConfig } from '../config/app.config.js';
import { RedisService } from '../redis/redis.service.js';
import { ResponseCacheInterceptor } from './response-cache.interceptor.js';
import { ResponseCache } from './response-cache.service.js';

/**
 * The caches. `CACHE_MANAGER` (cache-manager 7) serves key/value caches such as `user_lookup:`;
 * `ResponseCache` is the per-user response cache (its own keys and plain JSON values).
 *
 * cache-manager 7 on the shared Redis client (cache-manager-ioredis-yet through cache-manager's
 * KeyvAdapter). Keyv turns a store error into a miss (it emits "error" and returns undefined), so a
 * Redis outage never becomes a 5xx. Keys carry no Keyv namespace: `user_lookup:<x>` is the Django
 * system's key, under the deployment-wide REDIS_KEY_PREFIX the client adds. In embedded mode without
 * Redis both caches live in this process's memory.
 */
@Global()
@Module({
  imports: [
    CacheModule.registerAsync({
      inject: [{ token: RedisService, optional: true }, appConfig.KEY],
      useFactory: (redis: RedisService | undefined, app: ConfigType<typeof appConfig>) => {
        // Embedded mode without REDIS_URL (development/test): CoreModule loads no Redis client and
        // the cache is Keyv's in-memory store, in this process only (src/embedded/).
        if (!redis) return { stores: [new Keyv()], ttl: app.responseCacheTtlSeconds * 1000 };
        const store = new Keyv({
          // cache-manager-ioredis-yet is typed against cache-manager 5; its store has every method KeyvAdapter calls.
          store: new KeyvAdapter(redisInsStore(redis.client) as unknown as ConstructorParameters<typeof KeyvAdapter>[0]),
          useKeyPrefix: false,
          namespace: undefined,
        });
        store.on('error', () => undefined);
        // A default TTL only; user_lookup entries pass their own (5 minutes).
        return { stores: [store], ttl: app.responseCacheTtlSeconds * 1000 };
      },
    }),
    DiscoveryModule,
  ],
  providers: [ResponseCache, ResponseCacheInterceptor],
  exports: [CacheModule, ResponseCache, ResponseCacheInterceptor],
})
export class AppCacheModule {}
