import { Body, Controller, HttpCode, HttpStatus, Post } from '@nestjs/common';
import { ApiAcceptedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Public } from '../common/decorators/public.decorator.js';
import { ApiRequestBody } from '../common/openapi/api-responses.decorator.js';
import { RateLimit } from '../rate-limit/rate-limit.guard.js';
import { AccountEmailService } from './account-email.service.js';
import { AcceptedDto, EmailDto, EmailVerifyDto, PasswordResetConfirmDto } from './dto/account-email.dto.js';
import { EmptyDto } from './dto/token.dto.js';

const RESET_ACCEPTED = 'If the address belongs to an account, a password reset link is on its way.';
const RESEND_ACCEPTED = 'If the address belongs to an account that is not confirmed yet, a new link is on its way.';

/** Links sent by e-mail: address confirmation and password reset. */
@ApiTags('account')
@Public()
@Controller('api')
export class AccountEmailController {
  constructor(private readonly flows: AccountEmailService) {}

  @Post('password/reset/')
  @HttpCode(HttpStatus.ACCEPTED)
  @RateLimit('password')
  @ApiOperation({ summary: 'Ask for a password reset link by e-mail' })
  @ApiRequestBody(EmailDto)
  @ApiAcceptedResponse({ type: AcceptedDto, description: 'Always 202 for a valid address, whether or not an account has it' })
  async requestReset(@Body() body: EmailDto): Promise<AcceptedDto> {
    await this.flows.requestPasswordReset(body.email);
    return { detail: RESET_ACCEPTED };
  }

  @Post('password/reset/confirm/')
  @HttpCode(HttpStatus.OK)
  @RateLimit('password')
  @ApiOperation({ summary: 'Set a new password with the link from the reset e-mail' })
  @ApiRequestBody(PasswordResetConfirmDto, { fieldErrors: 'An invalid, used or expired link is a `token` error.' })
  @ApiOkResponse({ type: EmptyDto, description: 'Password set; every session of the user ended' })
  async confirmReset(@Body() body: PasswordResetConfirmDto): Promise<EmptyDto> {
    await this.flows.confirmPasswordReset(body.uid, body.token, body.new_password);
    return {};
  }

  @Post('email/verify/')
  @HttpCode(HttpStatus.OK)
  @RateLimit('password')
  @ApiOperation({ summary: 'Confirm the e-mail address with the link from the confirmation e-mail' })
  @ApiRequestBody(EmailVerifyDto, { fieldErrors: 'An invalid or expired link is a `token` error.' })
  @ApiOkResponse({ type: EmptyDto, description: 'Address confirmed' })
  async verifyEmail(@Body() body: EmailVerifyDto): Promise<EmptyDto> {
    await this.flows.confirmEmail(body.uid, body.token);
    return {};
  }

  @Post('email/verify/resend/')
  @HttpCode(HttpStatus.ACCEPTED)
  @RateLimit('password')
  @ApiOperation({ summary: 'Send the address confirmation e-mail again' })
  @ApiRequestBody(EmailDto)
  @ApiAcceptedResponse({ type: AcceptedDto, description: 'Always 202 for a valid address, whether or not an account has it' })
  async resend(@Body() body: EmailDto): Promise<AcceptedDto> {
    await this.flows.resendVerification(body.email);
    return { detail: RESEND_ACCEPTED };
  }
}
