import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';

export interface RequestClient {
  /** Client IP: X-Forwarded-For is honoured only as far as TRUST_PROXY_HOPS allows (Fastify trustProxy). */
  ip: string | null;
  userAgent: string | null;
}

export const clientOf = (request: FastifyRequest): RequestClient => ({
  ip: request.ip ?? null,
  userAgent: typeof request.headers['user-agent'] === 'string' ? request.headers['user-agent'] : null,
});

/** The calling client's IP and user agent. */
export const Client = createParamDecorator(
  (_data: unknown, context: ExecutionContext): RequestClient => clientOf(context.switchToHttp().getRequest<FastifyRequest>()),
);
