import { Controller, Get, NotFoundException } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CachePerUser } from '../cache/cache-per-user.decorator.js';
import { Authenticated } from '../common/decorators/authenticated.decorator.js';
import type { SessionPrincipal } from '../common/auth/principal.js';
import { CurrentUser } from '../common/decorators/current-user.decorator.js';
import { ApiNotFound } from '../common/openapi/api-responses.decorator.js';
import { ProfileResponseDto } from './dto/user-response.dto.js';
import { UsersService } from './users.service.js';

@ApiTags('users')
@Controller('api')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  /** The caller's profile. Cached per user in Redis; the cache entry is dropped when the user changes. */
  @Get('me/')
  @Authenticated()
  @CachePerUser()
  @ApiOperation({ summary: "The caller's profile" })
  @ApiOkResponse({ type: ProfileResponseDto })
  @ApiNotFound('The account was deleted (outside the API) after the token was checked')
  async me(@CurrentUser() caller: SessionPrincipal): Promise<ProfileResponseDto> {
    const user = await this.users.findProfile(caller.userId);
    if (!user) throw new NotFoundException();
    return ProfileResponseDto.from(user);
  }
}
