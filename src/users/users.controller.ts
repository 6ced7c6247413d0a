import { Controller, Get, NotFoundException } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { CachePerUser } from '../cache/cache-per-user.decorator.js';
import { Authenticated } from '../common/decorators/authenticated.decorator.js';
import type { SessionPrincipal } from '../common/auth/principal.js';
import { CurrentUser } from '../common/decorators/current-user.decorator.js';
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
  @ApiOkResponse({ type: ProfileResponseDto })
  async me(@CurrentUser() caller: SessionPrincipal): Promise<ProfileResponseDto> {
    const user = await this.users.findProfile(caller.userId);
    if (!user) throw new NotFoundException();
    return ProfileResponseDto.from(user);
  }
}
