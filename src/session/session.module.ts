import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { RedisService } from '../redis/redis.service.js';
import { UsersModule } from '../users/users.module.js';
import { BlacklistedToken } from './blacklisted-token.entity.js';
import { MemoryRevocationRecords } from './memory-revocation-records.js';
import { SessionRepository } from './persistence/session.repository.js';
import { TypeOrmSessionRepository } from './persistence/typeorm-session.repository.js';
import { RedisRevocationRecords } from './redis-revocation-records.js';
import { RevocationRecords } from './revocation-records.js';
import { RevocationStore } from './revocation-store.service.js';
import { Session } from './session.entity.js';
import { SessionsService } from './sessions.service.js';

/** Owns the sessions and blacklisted_tokens tables: only SessionRepository queries them. */
@Module({
  imports: [TypeOrmModule.forFeature([Session, BlacklistedToken]), UsersModule],
  // Another persistence is bound here, in one place.
  providers: [
    SessionsService,
    RevocationStore,
    { provide: SessionRepository, useClass: TypeOrmSessionRepository },
    {
      // Embedded mode without REDIS_URL (development/test): CoreModule loads no Redis client, and the
      // revocation fast path keeps its records in this process's memory (src/embedded/).
      provide: RevocationRecords,
      inject: [{ token: RedisService, optional: true }],
      useFactory: (redis?: RedisService) => (redis ? new RedisRevocationRecords(redis) : new MemoryRevocationRecords()),
    },
  ],
  exports: [SessionsService, RevocationStore],
})
export class SessionModule {}
