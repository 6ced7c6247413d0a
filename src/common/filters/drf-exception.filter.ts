import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DrfException } from '../http/drf-errors.js';

interface FastifyError extends Error {
  statusCode?: number;
  code?: string;
}

const STATUS_DETAIL: Partial<Record<number, string>> = {
  [HttpStatus.NOT_FOUND]: 'Not found.',
  [HttpStatus.PAYLOAD_TOO_LARGE]: 'Request body is too large.',
  [HttpStatus.FORBIDDEN]: 'You do not have permission to perform this action.',
  [HttpStatus.INTERNAL_SERVER_ERROR]: 'A server error occurred.',
};

/**
 * The one exception filter: every error leaves in Django REST framework's shape, and an unknown
 * error is a plain 500 that says nothing of the internals (the stack goes to the log only; request
 * bodies are never logged, so no password or token reaches it).
 */
@Catch()
export class DrfExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Exceptions');

  catch(exception: unknown, host: ArgumentsHost): void {
    const context = host.switchToHttp();
    const reply = context.getResponse<FastifyReply>();
    const request = context.getRequest<FastifyRequest>();
    const { status, body, headers } = this.describe(exception, request);
    if (status >= 500) {
      this.logger.error(
        `${request.method} ${request.routeOptions?.url ?? 'unknown route'} failed: ${(exception as Error)?.message}`,
        (exception as Error)?.stack,
      );
    }
    if (status === HttpStatus.UNAUTHORIZED) headers['WWW-Authenticate'] ??= 'Bearer realm="api"';
    void reply.status(status).headers(headers).send(body);
  }

  describe(exception: unknown, request: FastifyRequest) {
    if (exception instanceof DrfException) {
      return { status: exception.getStatus(), body: exception.body, headers: { ...exception.headers } };
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const response = exception.getResponse();
      const message =
        typeof response === 'string' ? response : (response as { message?: unknown }).message;
      const detail =
        status === HttpStatus.METHOD_NOT_ALLOWED
          ? `Method "${request.method}" not allowed.`
          : (STATUS_DETAIL[status] ?? (typeof message === 'string' ? message : exception.message));
      return { status, body: { detail }, headers: {} as Record<string, string> };
    }
    const fastifyError = exception as FastifyError;
    if (typeof fastifyError?.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
      return { status: fastifyError.statusCode, body: { detail: this.clientErrorDetail(fastifyError, request) }, headers: {} as Record<string, string> };
    }
    return {
      status: HttpStatus.INTERNAL_SERVER_ERROR,
      body: { detail: STATUS_DETAIL[HttpStatus.INTERNAL_SERVER_ERROR] },
      headers: {} as Record<string, string>,
    };
  }

  /** Fastify's own 4xx errors (body parsing, content type, size), reworded the way DRF says them. */
  private clientErrorDetail(error: FastifyError, request: FastifyRequest): string {
    switch (error.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return STATUS_DETAIL[HttpStatus.PAYLOAD_TOO_LARGE]!;
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return `Unsupported media type "${request.headers['content-type'] ?? ''}" in request.`;
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return 'JSON parse error - the body is empty.';
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
      case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
        return `JSON parse error - ${error.message}`;
      default:
        return error instanceof SyntaxError ? `JSON parse error - ${error.message}` : error.message;
    }
  }
}
