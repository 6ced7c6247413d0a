import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { authConfig } from '../config/auth.config.js';
import { UsersModule } from '../users/users.module.js';
import { RevocationStore } from './revocation-store.service.js';
import { SessionsService } from './sessions.service.js';

@Module({
  imports: [ConfigModule.forFeature(authConfig), UsersModule],
  providers: [SessionsService, RevocationStore],
  exports: [SessionsService, RevocationStore],
})
export class SessionModule {}
