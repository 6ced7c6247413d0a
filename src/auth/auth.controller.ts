import { Body, Controller, HttpCode, HttpStatus, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiResetContentResponse, ApiTags } from '@nestjs/swagger';
import { Authenticated } from '../common/decorators/authenticated.decorator.js';
import type { SessionPrincipal } from '../common/auth/principal.js';
import { Client, type RequestClient } from '../common/decorators/client.decorator.js';
import { CurrentUser } from '../common/decorators/current-user.decorator.js';
import { Public } from '../common/decorators/public.decorator.js';
import { ApiLoginErrors, ApiRequestBody, ApiTokenErrors } from '../common/openapi/api-responses.decorator.js';
import { RateLimit } from '../rate-limit/rate-limit.guard.js';
import { UserResponseDto } from '../users/dto/user-response.dto.js';
import { AuthService } from './auth.service.js';
import { RegisterDto } from './dto/register.dto.js';
import { TokenObtainDto } from './dto/token-obtain.dto.js';
import { AccessRefreshDto, EmptyDto, LogoutDto, RefreshTokenDto, TokenPairDto, VerifyTokenDto } from './dto/token.dto.js';

/** The Django system's endpoints (simplejwt + register + logout), same paths, bodies and errors. */
@ApiTags('auth')
@Controller('api')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  @Public()
  @Post('register/')
  @HttpCode(HttpStatus.CREATED)
  @RateLimit('register')
  @ApiOperation({ summary: 'Create an account (a confirmation e-mail is sent)' })
  @ApiRequestBody(RegisterDto, { fieldErrors: 'Includes a taken username or e-mail and the password validators.' })
  @ApiCreatedResponse({ type: UserResponseDto })
  async register(@Body() body: RegisterDto): Promise<UserResponseDto> {
    return UserResponseDto.from(await this.auth.register(body));
  }

  @Public()
  @Post('token/')
  @HttpCode(HttpStatus.OK)
  @RateLimit('login')
  @ApiOperation({ summary: 'Log in: a refresh and an access token (a new session)' })
  @ApiRequestBody(TokenObtainDto)
  @ApiOkResponse({ type: TokenPairDto })
  @ApiLoginErrors()
  obtain(@Body() body: TokenObtainDto, @Client() client: RequestClient): Promise<TokenPairDto> {
    return this.auth.login(body.username, body.password, client);
  }

  @Public()
  @Post('token/refresh/')
  @HttpCode(HttpStatus.OK)
  @RateLimit('refresh')
  @ApiOperation({ summary: 'Rotate a refresh token: a new access and a new refresh token; the one sent is consumed' })
  @ApiRequestBody(RefreshTokenDto)
  @ApiOkResponse({ type: AccessRefreshDto })
  @ApiTokenErrors()
  refresh(@Body() body: RefreshTokenDto, @Client() client: RequestClient): Promise<AccessRefreshDto> {
    return this.auth.refresh(body.refresh, client);
  }

  @Public()
  @Post('token/verify/')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Check that a token (access or refresh) is valid and not revoked' })
  @ApiRequestBody(VerifyTokenDto)
  @ApiOkResponse({ type: EmptyDto })
  @ApiTokenErrors()
  async verify(@Body() body: VerifyTokenDto): Promise<EmptyDto> {
    await this.auth.verify(body.token);
    return {};
  }

  @Public()
  @Post('token/blacklist/')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Blacklist a refresh token; its session ends' })
  @ApiRequestBody(RefreshTokenDto)
  @ApiOkResponse({ type: EmptyDto, description: 'The token is blacklisted and its session ends' })
  @ApiTokenErrors()
  async blacklist(@Body() body: RefreshTokenDto): Promise<EmptyDto> {
    await this.auth.blacklist(body.refresh);
    return {};
  }

  @Post('logout/')
  @HttpCode(HttpStatus.RESET_CONTENT)
  @Authenticated()
  @ApiOperation({ summary: "Log out: end the caller's session (and the refresh token's, if one is sent)" })
  @ApiRequestBody(LogoutDto, { required: false })
  @ApiResetContentResponse({ description: 'The session ended: its access and refresh tokens stop working at once' })
  async logout(@CurrentUser() caller: SessionPrincipal, @Body() body: LogoutDto): Promise<void> {
    await this.auth.logout(caller, body.refresh);
  }
}
