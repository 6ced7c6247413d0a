import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Principal } from '../auth/principal.js';

/**
 * The authenticated caller, as the global guard put it on the request. Type the parameter as the
 * member of the union the route accepts (e.g. `SessionPrincipal` for `@Authenticated()`).
 */
export const CurrentUser = createParamDecorator(
  (_data: unknown, context: ExecutionContext): Principal => context.switchToHttp().getRequest<{ user: Principal }>().user,
);
