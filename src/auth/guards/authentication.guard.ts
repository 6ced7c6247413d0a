import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { ResponseCache } from '../../cache/response-cache.service.js';
import { DEFAULT_PRINCIPAL_KINDS, type Principal, type PrincipalKind } from '../../common/auth/principal.js';
import { setReadAlong } from '../../common/auth/read-along.js';
import { PRINCIPAL_KINDS_KEY } from '../../common/decorators/authenticated.decorator.js';
import { IS_PUBLIC_KEY } from '../../common/decorators/public.decorator.js';
import { notAuthenticated, permissionDenied } from '../../common/http/drf-errors.js';
import { type CredentialStrategy, CredentialStrategies } from '../strategies/credential-strategies.js';

type AuthRequest = FastifyRequest & { user?: Principal };

/**
 * The global guard (APP_GUARD): every route needs a valid credential unless it is `@Public()`.
 *
 * The rule, whatever strategies are registered (CredentialStrategies):
 * - no credential presented → 401 "Authentication credentials were not provided.";
 * - every presented credential is verified by its passport strategy, and any that fails is a 401 —
 *   a bad or revoked bearer token is never rescued by another credential sent along;
 * - the caller is the first verified principal whose kind the route accepts (`@Authenticated(...)`,
 *   default: session holders); a valid credential of another kind only is 403.
 *
 * Before the strategies run, a `@CachePerUser()` GET asks for its response-cache entry to be read
 * along the revocation check (one Redis round trip for both).
 */
@Injectable()
export class AuthenticationGuard implements CanActivate {
  private readonly passportGuards = new Map<string, CanActivate>();

  constructor(
    private readonly reflector: Reflector,
    private readonly strategies: CredentialStrategies,
    private readonly responseCache: ResponseCache,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC_KEY, targets)) return true;
    const request = context.switchToHttp().getRequest<AuthRequest>();
    const prefetch = this.responseCache.prefetchFor(context);
    if (prefetch) setReadAlong(request, prefetch);
    const accepted = this.reflector.getAllAndOverride<readonly PrincipalKind[]>(PRINCIPAL_KINDS_KEY, targets) ?? DEFAULT_PRINCIPAL_KINDS;
    let presented = false;
    let caller: Principal | undefined;
    for (const strategy of this.strategies.all) {
      if (!strategy.presented(request)) continue;
      presented = true;
      await this.passportGuardOf(strategy).canActivate(context); // throws the strategy's 401
      const principal = request.user!;
      caller ??= accepted.includes(principal.kind) ? principal : undefined;
    }
    if (!presented) throw notAuthenticated();
    if (!caller) throw permissionDenied();
    request.user = caller;
    return true;
  }

  /** @nestjs/passport's guard for one strategy, answering a failure with the strategy's own 401. */
  private passportGuardOf(strategy: CredentialStrategy): CanActivate {
    let guard = this.passportGuards.get(strategy.name);
    if (!guard) {
      guard = new (class extends AuthGuard(strategy.name) {
        override handleRequest<TUser>(error: unknown, user: TUser, info: unknown): TUser {
          if (error) throw error;
          if (!user) throw strategy.rejected(info);
          return user;
        }
      })();
      this.passportGuards.set(strategy.name, guard);
    }
    return guard;
  }
}
