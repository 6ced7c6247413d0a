import { type CanActivate, type ExecutionContext, Injectable, SetMetadata, UseGuards, applyDecorators } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { ApiThrottledResponse } from '../common/openapi/api-responses.decorator.js';
import { type RateLimitGroup, RateLimitService } from './rate-limit.service.js';

const RATE_LIMIT_GROUP = 'rateLimitGroup';

/** Per-client-IP limit for a route group; answers 429 with Retry-After past the budget. */
@Injectable()
export class RateLimitGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly limits: RateLimitService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const group = this.reflector.get<RateLimitGroup>(RATE_LIMIT_GROUP, context.getHandler());
    if (group) await this.limits.hitIp(group, context.switchToHttp().getRequest<FastifyRequest>().ip ?? null);
    return true;
  }
}

/** `@RateLimit('login')`: limits the route per client IP (X-Forwarded-For as far as TRUST_PROXY_HOPS allows). */
export const RateLimit = (group: RateLimitGroup) =>
  applyDecorators(
    SetMetadata(RATE_LIMIT_GROUP, group),
    UseGuards(RateLimitGuard),
    ApiThrottledResponse(),
  );
