import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { authConfig } from '../config/auth.config.js';
import { AccountTokensService } from './account-tokens.service.js';

/**
 * The signed single-purpose links (password reset, e-mail verification): made by the worker when it
 * sends the e-mail, checked by the API when the link comes back. A module of its own so that the
 * worker's jobs need nothing of auth/.
 */
@Module({
  imports: [ConfigModule.forFeature(authConfig)],
  providers: [AccountTokensService],
  exports: [AccountTokensService],
})
export class AccountLinksModule {}
