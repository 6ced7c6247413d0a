import { applyDecorators } from '@nestjs/common';
import { ApiBearerAuth } from '@nestjs/swagger';
import { ApiAuthenticationErrors } from '../openapi/api-responses.decorator.js';

/**
 * Documents a route protected by the global JWT guard: bearer security in the OpenAPI document and
 * the 401 it answers. (Protection itself is the default; `@Public()` opts out.)
 */
export const Authenticated = () => applyDecorators(ApiBearerAuth(), ApiAuthenticationErrors());
