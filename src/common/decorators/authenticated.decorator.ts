import { applyDecorators } from '@nestjs/common';
import { ApiBearerAuth, ApiUnauthorizedResponse } from '@nestjs/swagger';

/**
 * Documents a route protected by the global JWT guard: bearer security in the OpenAPI document and
 * the 401 it answers. (Protection itself is the default; `@Public()` opts out.)
 */
export const Authenticated = () =>
  applyDecorators(
    ApiBearerAuth(),
    ApiUnauthorizedResponse({ description: 'Missing, invalid, expired or revoked access token' }),
  );
