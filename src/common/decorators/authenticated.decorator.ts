import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth } from '@nestjs/swagger';
import { DEFAULT_PRINCIPAL_KINDS, type PrincipalKind } from '../auth/principal.js';
import { ApiAuthenticationErrors } from '../openapi/api-responses.decorator.js';

export const PRINCIPAL_KINDS_KEY = 'principalKinds';

/**
 * Says which kinds of principal a route or controller accepts (default: session holders, i.e. our
 * access tokens) and documents it: bearer security and the 401 in the OpenAPI document. The global
 * AuthenticationGuard reads the kinds; a route without this decorator (and not `@Public()`) is still
 * protected and accepts the default kinds. A credential of another kind gets 403.
 */
export const Authenticated = (...kinds: PrincipalKind[]) =>
  applyDecorators(SetMetadata(PRINCIPAL_KINDS_KEY, kinds.length > 0 ? kinds : DEFAULT_PRINCIPAL_KINDS), ApiBearerAuth(), ApiAuthenticationErrors());
