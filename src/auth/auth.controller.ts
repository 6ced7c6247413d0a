import { Body, Controller, HttpCode, HttpStatus, Post } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiResetContentResponse,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { Authenticated } from '../common/decorators/authenticated.decorator.js';
import type { SessionPrincipal } from '../common/auth/principal.js';
import { Client, type RequestClient } from '../common/decorators/client.decorator.js';
import { CurrentUser } from '../common/decorators/current-user.decorator.js';
import { Public } from '../common/decorators/public.decorator.js';
import { RateLimit } from '../rate-limit/rate-limit.guard.js';
import { UserResponseDto } from '../users/dto/user-response.dto.js';
import { AuthService } from './auth.service.js';
import { RegisterDto } from './dto/register.dto.js';
import { TokenObtainDto } from './dto/token-obtain.dto.js';
import { AccessRefreshDto, EmptyDto, LogoutDto, RefreshTokenDto, TokenPairDto, VerifyTokenDto } from './dto/token.dto.js';

/** The Django system's endpoints (simplejwt + register + logout), same paths, bodies and errors. */
@ApiTags('auth')
@ApiBadRequestResponse({ description: 'Validation error: {"field": ["message"]}' })
@Controller('api')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  @Public()
  @Post('register/')
  @HttpCode(HttpStatus.CREATED)
  @RateLimit('register')
  @ApiCreatedResponse({ type: UserResponseDto })
  async register(@Body() body: RegisterDto): Promise<UserResponseDto> {
    return UserResponseDto.from(await this.auth.register(body));
  }

  @Public()
  @Post('token/')
  @HttpCode(HttpStatus.OK)
  @ApiOkResponse({ type: TokenPairDto })
  @RateLimit('login')
  @ApiUnauthorizedResponse({ description: 'No active account found with the given credentials' })
  obtain(@Body() body: TokenObtainDto, @Client() client: RequestClient): Promise<TokenPairDto> {
    return this.auth.login(body.username, body.password, client);
  }

  @Public()
  @Post('token/refresh/')
  @HttpCode(HttpStatus.OK)
  @RateLimit('refresh')
  @ApiOkResponse({ type: AccessRefreshDto })
  @ApiUnauthorizedResponse({ description: 'token_not_valid (invalid, expired, wrong type or blacklisted)' })
  refresh(@Body() body: RefreshTokenDto, @Client() client: RequestClient): Promise<AccessRefreshDto> {
    return this.auth.refresh(body.refresh, client);
  }

  @Public()
  @Post('token/verify/')
  @HttpCode(HttpStatus.OK)
  @ApiOkResponse({ type: EmptyDto })
  @ApiUnauthorizedResponse({ description: 'token_not_valid' })
  async verify(@Body() body: VerifyTokenDto): Promise<EmptyDto> {
    await this.auth.verify(body.token);
    return {};
  }

  @Public()
  @Post('token/blacklist/')
  @HttpCode(HttpStatus.OK)
  @ApiOkResponse({ type: EmptyDto, description: "The token is blacklisted and its session ends" })
  @ApiUnauthorizedResponse({ description: 'token_not_valid' })
  async blacklist(@Body() body: RefreshTokenDto): Promise<EmptyDto> {
    await this.auth.blacklist(body.refresh);
    return {};
  }

  @Post('logout/')
  @HttpCode(HttpStatus.RESET_CONTENT)
  @Authenticated()
  @ApiResetContentResponse({ description: 'The session ended: its access and refresh tokens stop working at once' })
  async logout(@CurrentUser() caller: SessionPrincipal, @Body() body: LogoutDto): Promise<void> {
    await this.auth.logout(caller, body.refresh);
  }
}
