import { Module } from '@nestjs/common';
import { UsersModule } from '../users/users.module.js';
import { RevocationStore } from './revocation-store.service.js';
import { SessionsController } from './sessions.controller.js';
import { SessionsService } from './sessions.service.js';

@Module({
  imports: [UsersModule],
  controllers: [SessionsController],
  providers: [SessionsService, RevocationStore],
  exports: [SessionsService, RevocationStore],
})
export class SessionModule {}
