import { Module } from '@nestjs/common';
import { JwtModule } from '@nestjs/jwt';
import { AccountLinksModule } from '../account-links/account-links.module.js';
import { OutboxModule } from '../jobs/outbox.module.js';
import { SessionModule } from '../session/session.module.js';
import { UsersModule } from '../users/users.module.js';
import { AccountEmailController } from './account-email.controller.js';
import { AccountEmailService } from './account-email.service.js';
import { AccountController } from './account.controller.js';
import { AccountService } from './account.service.js';
import { AuthController } from './auth.controller.js';
import { AuthService } from './auth.service.js';
import { JwtStrategy } from './strategies/jwt.strategy.js';
import { TokensService } from './tokens.service.js';

/** The token endpoints, account flows and the JWT strategy (registered with the global AuthenticationGuard). */
@Module({
  imports: [AccountLinksModule, OutboxModule, JwtModule.register({}), SessionModule, UsersModule],
  controllers: [AuthController, AccountController, AccountEmailController],
  providers: [AuthService, AccountService, AccountEmailService, TokensService, JwtStrategy],
  exports: [TokensService, AccountService],
})
export class AuthModule {}
