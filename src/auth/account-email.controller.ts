import { Body, Controller, HttpCode, HttpStatus, Post } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBadRequestResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { Public } from '../common/decorators/public.decorator.js';
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
  @ApiAcceptedResponse({ type: AcceptedDto, description: 'Always 202, whether or not the address exists' })
  async requestReset(@Body() body: EmailDto): Promise<AcceptedDto> {
    await this.flows.requestPasswordReset(body.email);
    return { detail: RESET_ACCEPTED };
  }

  @Post('password/reset/confirm/')
  @HttpCode(HttpStatus.OK)
  @RateLimit('password')
  @ApiOkResponse({ type: EmptyDto, description: 'Password set; every session of the user ended' })
  @ApiBadRequestResponse({ description: '{"token": [...]} or {"new_password": [...]}' })
  async confirmReset(@Body() body: PasswordResetConfirmDto): Promise<EmptyDto> {
    await this.flows.confirmPasswordReset(body.uid, body.token, body.new_password);
    return {};
  }

  @Post('email/verify/')
  @HttpCode(HttpStatus.OK)
  @RateLimit('password')
  @ApiOkResponse({ type: EmptyDto, description: 'Address confirmed' })
  @ApiBadRequestResponse({ description: '{"token": ["The link is invalid or has expired."]}' })
  async verifyEmail(@Body() body: EmailVerifyDto): Promise<EmptyDto> {
    await this.flows.confirmEmail(body.uid, body.token);
    return {};
  }

  @Post('email/verify/resend/')
  @HttpCode(HttpStatus.ACCEPTED)
  @RateLimit('password')
  @ApiAcceptedResponse({ type: AcceptedDto, description: 'Always 202, whether or not the address exists' })
  async resend(@Body() body: EmailDto): Promise<AcceptedDto> {
    await this.flows.resendVerification(body.email);
    return { detail: RESEND_ACCEPTED };
  }
}
