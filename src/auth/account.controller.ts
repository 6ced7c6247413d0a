import { Body, Controller, HttpCode, HttpStatus, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiResetContentResponse, ApiTags } from '@nestjs/swagger';
import { Authenticated } from '../common/decorators/authenticated.decorator.js';
import type { SessionPrincipal } from '../common/auth/principal.js';
import { Client, type RequestClient } from '../common/decorators/client.decorator.js';
import { CurrentUser } from '../common/decorators/current-user.decorator.js';
import { ApiRequestBody } from '../common/openapi/api-responses.decorator.js';
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
  @ApiOperation({ summary: "Change the caller's password; every other session ends" })
  @ApiRequestBody(PasswordChangeDto, { fieldErrors: 'A wrong old password is an `old_password` error.' })
  @ApiOkResponse({ type: EmptyDto, description: 'Password changed; every other session of the user ended' })
  async changePassword(@CurrentUser() caller: SessionPrincipal, @Body() body: PasswordChangeDto, @Client() client: RequestClient): Promise<EmptyDto> {
    await this.account.changePassword(caller, body.old_password, body.new_password, client);
    return {};
  }

  @Post('logout/all/')
  @HttpCode(HttpStatus.RESET_CONTENT)
  @ApiOperation({ summary: 'Log out everywhere: every session of the caller ends, this one included' })
  @ApiResetContentResponse({ description: 'Every session of the user ended, this one included' })
  async logoutEverywhere(@CurrentUser() caller: SessionPrincipal): Promise<void> {
    await this.account.logoutEverywhere(caller);
  }

  @Post('logout/others/')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Log out the other sessions of the caller; this one continues' })
  @ApiOkResponse({ type: RevokedCountDto, description: 'Every other session of the user ended' })
  async logoutOthers(@CurrentUser() caller: SessionPrincipal): Promise<RevokedCountDto> {
    return { revoked: await this.account.logoutOthers(caller) };
  }
}
