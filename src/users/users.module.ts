import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { LastLoginRecorder } from './last-login.recorder.js';
import { LoginIdentifier } from './login-identifier.entity.js';
import { PasswordHasher } from './password/password-hasher.service.js';
import { TypeOrmUserRepository } from './persistence/typeorm-user.repository.js';
import { UserRepository } from './persistence/user.repository.js';
import { User } from './user.entity.js';
import { UsersService } from './users.service.js';

/** Owns the users and login_identifiers tables: only UserRepository queries them. */
@Module({
  imports: [TypeOrmModule.forFeature([User, LoginIdentifier])],
  // Another persistence is bound here, in one place.
  providers: [UsersService, PasswordHasher, LastLoginRecorder, { provide: UserRepository, useClass: TypeOrmUserRepository }],
  exports: [UsersService, PasswordHasher],
})
export class UsersModule {}
