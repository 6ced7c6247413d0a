import { Controller, Delete, Get, HttpCode, HttpStatus, NotFoundException, Param, ParseUUIDPipe } from '@nestjs/common';
import { ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Authenticated } from '../common/decorators/authenticated.decorator.js';
import type { SessionPrincipal } from '../common/auth/principal.js';
import { CurrentUser } from '../common/decorators/current-user.decorator.js';
import { ApiNotFound } from '../common/openapi/api-responses.decorator.js';
import { SessionResponseDto } from './dto/session-response.dto.js';
import { SessionsService } from './sessions.service.js';

/** The caller's own sessions: list them, end one. */
@ApiTags('sessions')
@Authenticated()
@Controller('api/sessions')
export class SessionsController {
  constructor(private readonly sessions: SessionsService) {}

  @Get('/')
  @ApiOperation({ summary: "List the caller's live sessions" })
  @ApiOkResponse({ type: [SessionResponseDto] })
  async list(@CurrentUser() caller: SessionPrincipal): Promise<SessionResponseDto[]> {
    return (await this.sessions.listActive(caller.userId)).map((session) => SessionResponseDto.from(session, caller.sessionId));
  }

  @Delete(':id/')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'End one of the caller\'s sessions' })
  @ApiParam({ name: 'id', format: 'uuid', description: 'A session id, as listed by GET /api/sessions/' })
  @ApiNoContentResponse({ description: 'The session ended: its access and refresh tokens stop working at once' })
  @ApiNotFound('No live session of the caller has this id (an id that is not a uuid included)')
  async revoke(
    @CurrentUser() caller: SessionPrincipal,
    @Param('id', new ParseUUIDPipe({ exceptionFactory: () => new NotFoundException() })) id: string,
  ): Promise<void> {
    if (!(await this.sessions.revoke(caller.userId, id, 'revoked'))) throw new NotFoundException();
  }
}
