import { Module } from '@nestjs/common';
import { LastLoginRecorder } from './last-login.recorder.js';
import { PasswordHasher } from './password/password-hasher.service.js';
import { UsersService } from './users.service.js';

@Module({
  providers: [UsersService, PasswordHasher, LastLoginRecorder],
  exports: [UsersService, PasswordHasher],
})
export class UsersModule {}
