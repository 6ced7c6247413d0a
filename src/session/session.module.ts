import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { authConfig } from '../config/auth.config.js';
import { RedisService } from '../redis/redis.service.js';
import { UsersModule } from '../users/users.module.js';
import { MemoryRevocationRecords } from './memory-revocation-records.js';
import { RedisRevocationRecords } from './redis-revocation-records.js';
import { RevocationRecords } from './revocation-records.js';
import { RevocationStore } from './revocation-store.service.js';
import { SessionsController } from './sessions.controller.js';
import { SessionsService } from './sessions.service.js';

@Module({
  imports: [ConfigModule.forFeature(authConfig), UsersModule],
  controllers: [SessionsController],
  providers: [
    SessionsService,
    RevocationStore,
    {
      // Embedded-mode hook: without REDIS_URL (development/test) AppModule loads no RedisModule, and
      // the revocation fast path keeps its records in this process's memory (src/embedded/).
      provide: RevocationRecords,
      inject: [{ token: RedisService, optional: true }],
      useFactory: (redis?: RedisService) => (redis ? new RedisRevocationRecords(redis) : new MemoryRevocationRecords()),
    },
  ],
  exports: [SessionsService, RevocationStore],
})
export class SessionModule {}
