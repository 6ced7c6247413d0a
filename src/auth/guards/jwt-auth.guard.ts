import { type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { CACHE_PER_USER } from '../../cache/cache-per-user.decorator.js';
import type { ResponsePrefetch } from '../../cache/response-prefetch.js';
import { IS_PUBLIC_KEY } from '../../common/decorators/public.decorator.js';
import { bearerTokenNotValid, notAuthenticated } from '../../common/http/drf-errors.js';

/** The global guard (APP_GUARD): every route needs a valid access token unless it is `@Public()`. */
@Injectable()
export class JwtAuthGuard extends AuthGuard('jwt') {
  constructor(private readonly reflector: Reflector) {
    super();
  }

  override canActivate(context: ExecutionContext) {
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC_KEY, [context.getHandler(), context.getClass()]);
    if (isPublic) return true;
    const request = context.switchToHttp().getRequest<FastifyRequest & ResponsePrefetch>();
    if (request.method === 'GET' && this.reflector.get<boolean>(CACHE_PER_USER, context.getHandler())) {
      request.responseCacheRoute = request.routeOptions.url ?? request.url;
    }
    return super.canActivate(context);
  }

  override handleRequest<TUser>(error: unknown, user: TUser, info: unknown): TUser {
    if (error) throw error;
    if (user) return user;
    // passport-jwt reports a missing header as the message "No auth token".
    if (info instanceof Error && info.message === 'No auth token') throw notAuthenticated();
    throw bearerTokenNotValid();
  }
}
