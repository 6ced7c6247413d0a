import { Body, Controller, HttpCode, HttpStatus, Post } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiResetContentResponse, ApiTags } from '@nestjs/swagger';
import { Authenticated } from '../common/decorators/authenticated.decorator.js';
import type { SessionPrincipal } from '../common/auth/principal.js';
import { Client, type RequestClient } from '../common/decorators/client.decorator.js';
import { CurrentUser } from '../common/decorators/current-user.decorator.js';
import { RateLimit } from '../rate-limit/rate-limit.guard.js';
import { AccountService } from './account.service.js';
import { PasswordChangeDto } from './dto/password-change.dto.js';
import { EmptyDto, RevokedCountDto } from './dto/token.dto.js';

/** Account-wide actions of the caller: password change, log out everywhere (else). */
@ApiTags('account')
@Authenticated()
@Controller('api')
export class AccountController {
  constructor(private readonly account: AccountService) {}

  @Post('password/change/')
  @HttpCode(HttpStatus.OK)
  @RateLimit('password')
  @ApiOkResponse({ type: EmptyDto, description: 'Password changed; every other session of the user ended' })
  @ApiBadRequestResponse({ description: '{"old_password": [...]} or {"new_password": [...]}' })
  async changePassword(@CurrentUser() caller: SessionPrincipal, @Body() body: PasswordChangeDto, @Client() client: RequestClient): Promise<EmptyDto> {
    await this.account.changePassword(caller, body.old_password, body.new_password, client);
    return {};
  }

  @Post('logout/all/')
  @HttpCode(HttpStatus.RESET_CONTENT)
  @ApiResetContentResponse({ description: 'Every session of the user ended, this one included' })
  async logoutEverywhere(@CurrentUser() caller: SessionPrincipal): Promise<void> {
    await this.account.logoutEverywhere(caller);
  }

  @Post('logout/others/')
  @HttpCode(HttpStatus.OK)
  @ApiOkResponse({ type: RevokedCountDto, description: 'Every other session of the user ended' })
  async logoutOthers(@CurrentUser() caller: SessionPrincipal): Promise<RevokedCountDto> {
    return { revoked: await this.account.logoutOthers(caller) };
  }
}
