import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { PassportModule } from '@nestjs/passport';
import { OutboxModule } from '../jobs/outbox.module.js';
import { SessionModule } from '../session/session.module.js';
import { UsersModule } from '../users/users.module.js';
import { AccountEmailController } from './account-email.controller.js';
import { AccountEmailService } from './account-email.service.js';
import { AccountTokensService } from './account-tokens.service.js';
import { AccountController } from './account.controller.js';
import { AccountService } from './account.service.js';
import { AuthController } from './auth.controller.js';
import { AuthService } from './auth.service.js';
import { JwtAuthGuard } from './guards/jwt-auth.guard.js';
import { JwtStrategy } from './strategies/jwt.strategy.js';
import { TokensService } from './tokens.service.js';

@Module({
  imports: [OutboxModule, PassportModule, JwtModule.register({}), SessionModule, UsersModule],
  controllers: [AuthController, AccountController, AccountEmailController],
  providers: [AuthService, AccountService, AccountEmailService, AccountTokensService, TokensService, JwtStrategy, { provide: APP_GUARD, useClass: JwtAuthGuard }],
  exports: [TokensService, AccountService, AccountTokensService],
})
export class AuthModule {}
