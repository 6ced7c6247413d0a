import { CacheModule } from '@nestjs/cache-manager';
import { Global, Module } from '@nestjs/common';
import { ConfigModule, type ConfigType } from '@nestjs/config';
import { KeyvAdapter } from 'cache-manager';
import { redisInsStore } from 'cache-manager-ioredis-yet';
import { Keyv } from 'keyv';
import { appConfig } from '../config/app.config.js';
import { RedisService } from '../redis/redis.service.js';

/**
 * cache-manager 7 on the shared Redis client (cache-manager-ioredis-yet through cache-manager's
 * KeyvAdapter). Keyv turns a store error into a miss (it emits "error" and returns undefined), so a
 * Redis outage never becomes a 5xx. Keys carry no Keyv namespace: `user_lookup:<x>` is the Django
 * system's key, under the deployment-wide REDIS_KEY_PREFIX the client adds.
 */
@Global()
@Module({
  imports: [
    CacheModule.registerAsync({
      imports: [ConfigModule.forFeature(appConfig)],
      inject: [{ token: RedisService, optional: true }, appConfig.KEY],
      useFactory: (redis: RedisService | undefined, app: ConfigType<typeof appConfig>) => {
        // Embedded-mode hook: without REDIS_URL (development/test) AppModule loads no RedisModule and
        // the cache is Keyv's in-memory store, in this process only (src/embedded/).
        if (!redis) return { stores: [new Keyv()], ttl: app.responseCacheTtlSeconds * 1000 };
        const store = new Keyv({
          // cache-manager-ioredis-yet is typed against cache-manager 5; its store has every method KeyvAdapter calls.
          store: new KeyvAdapter(redisInsStore(redis.client) as unknown as ConstructorParameters<typeof KeyvAdapter>[0]),
          useKeyPrefix: false,
          namespace: undefined,
        });
        store.on('error', () => undefined);
        // The default TTL is the response cache's; user_lookup entries pass their own (5 minutes).
        return { stores: [store], ttl: app.responseCacheTtlSeconds * 1000 };
      },
    }),
  ],
  exports: [CacheModule],
})
export class AppCacheModule {}
