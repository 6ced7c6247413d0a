import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { UsersModule } from '../users/users.module.js';
import { BlacklistedToken } from './blacklisted-token.entity.js';
import { SessionRepository } from './persistence/session.repository.js';
import { TypeOrmSessionRepository } from './persistence/typeorm-session.repository.js';
import { RevocationStore } from './revocation-store.service.js';
import { Session } from './session.entity.js';
import { SessionsService } from './sessions.service.js';

/** Owns the sessions and blacklisted_tokens tables: only SessionRepository queries them. */
@Module({
  imports: [TypeOrmModule.forFeature([Session, BlacklistedToken]), UsersModule],
  // Another persistence is bound here, in one place.
  providers: [SessionsService, RevocationStore, { provide: SessionRepository, useClass: TypeOrmSessionRepository }],
  exports: [SessionsService, RevocationStore],
})
export class SessionModule {}
