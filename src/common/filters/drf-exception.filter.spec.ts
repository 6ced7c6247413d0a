import { describe, it, expect, jest, beforeEach, afterEach } from '@jest/globals';
import {
  type ArgumentsHost,
  BadRequestException,
  ForbiddenException,
  InternalServerErrorException,
  Logger,
  MethodNotAllowedException,
  NotFoundException,
  UnauthorizedException,
} from '@nestjs/common';
import { DrfException, drfValidationError, throttled, tokenNotValid } from '../http/drf-errors.js';
import { DrfExceptionFilter } from './drf-exception.filter.js';

interface SentReply {
  status?: number;
  headers: Record<string, string>;
  body?: unknown;
  sends: number;
}

/** A fake FastifyReply that records what the filter sends, and an ArgumentsHost around it. */
function fakeHost(request: { method?: string; headers?: Record<string, string>; url?: string } = {}) {
  const sent: SentReply = { headers: {}, sends: 0 };
  const reply = {
    status(code: number) {
      sent.status = code;
      return reply;
    },
    headers(values: Record<string, string>) {
      Object.assign(sent.headers, values);
      return reply;
    },
    send(body: unknown) {
      sent.body = body;
      sent.sends += 1;
      return reply;
    },
  };
  const fastifyRequest = {
    method: request.method ?? 'POST',
    headers: request.headers ?? {},
    routeOptions: { url: request.url ?? '/api/token/' },
  };
  const host = {
    switchToHttp: () => ({ getResponse: () => reply, getRequest: () => fastifyRequest, getNext: () => undefined }),
  } as unknown as ArgumentsHost;
  return { host, sent };
}

/** Runs the filter on `exception` and returns what was sent. */
function handle(exception: unknown, request?: Parameters<typeof fakeHost>[0]): SentReply {
  const { host, sent } = fakeHost(request);
  new DrfExceptionFilter().catch(exception, host);
  expect(sent.sends).toBe(1);
  return sent;
}

function fastifyError(statusCode: number, code: string, message: string): Error {
  return Object.assign(new Error(message), { statusCode, code });
}

describe('DrfExceptionFilter', () => {
  let logged: ReturnType<typeof jest.spyOn>;

  beforeEach(() => {
    logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  });

  afterEach(() => {
    logged.mockRestore();
  });

  describe('DrfException', () => {
    it('passes a validation error body through unchanged, with no extra headers', () => {
      const sent = handle(drfValidationError({ username: ['This field is required.'] }));
      expect(sent.status).toBe(400);
      expect(sent.body).toEqual({ username: ['This field is required.'] });
      expect(sent.headers).toEqual({});
    });

    it('passes its headers through (429 with Retry-After)', () => {
      const sent = handle(throttled(42));
      expect(sent.status).toBe(429);
      expect(sent.body).toEqual({ detail: 'Request was throttled. Expected available in 42 seconds.', code: 'throttled' });
      expect(sent.headers).toEqual({ 'Retry-After': '42' });
    });

    it('a 401 gets WWW-Authenticate: Bearer realm="api"', () => {
      const sent = handle(tokenNotValid());
      expect(sent.status).toBe(401);
      expect(sent.body).toEqual({ detail: 'Token is invalid or expired', code: 'token_not_valid' });
      expect(sent.headers).toEqual({ 'WWW-Authenticate': 'Bearer realm="api"' });
    });

    it('keeps a WWW-Authenticate header the exception sets itself, and does not change the exception', () => {
      const exception = new DrfException(401, { detail: 'x' }, { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
      expect(handle(exception).headers).toEqual({ 'WWW-Authenticate': 'Bearer error="invalid_token"' });
      const plain = tokenNotValid();
      handle(plain);
      expect(plain.headers).toEqual({});
    });

    it('is not logged as a server error', () => {
      handle(tokenNotValid());
      expect(logged).not.toHaveBeenCalled();
    });
  });

  describe("Nest's HttpExceptions", () => {
    it('NotFoundException → 404 {"detail":"Not found."}, whatever its message', () => {
      for (const exception of [new NotFoundException(), new NotFoundException('Cannot POST /api/nope')]) {
        const sent = handle(exception);
        expect(sent.status).toBe(404);
        expect(sent.body).toEqual({ detail: 'Not found.' });
        expect(sent.headers).toEqual({});
      }
    });

    it('UnauthorizedException → 401 with WWW-Authenticate', () => {
      const sent = handle(new UnauthorizedException());
      expect(sent.status).toBe(401);
      expect(sent.headers).toEqual({ 'WWW-Authenticate': 'Bearer realm="api"' });
      expect(sent.body).toEqual({ detail: expect.any(String) });
    });

    it('ForbiddenException → DRF permission message', () => {
      const sent = handle(new ForbiddenException('Forbidden resource'));
      expect(sent.status).toBe(403);
      expect(sent.body).toEqual({ detail: 'You do not have permission to perform this action.' });
    });

    it('MethodNotAllowedException → DRF message naming the method', () => {
      const sent = handle(new MethodNotAllowedException(), { method: 'PATCH' });
      expect(sent.status).toBe(405);
      expect(sent.body).toEqual({ detail: 'Method "PATCH" not allowed.' });
    });

    it('another 4xx keeps its message as the detail', () => {
      const sent = handle(new BadRequestException('Something specific'));
      expect(sent.status).toBe(400);
      expect(sent.body).toEqual({ detail: 'Something specific' });
    });

    it('InternalServerErrorException does not leak its message', () => {
      const sent = handle(new InternalServerErrorException('db password is hunter2'));
      expect(sent.status).toBe(500);
      expect(sent.body).toEqual({ detail: 'A server error occurred.' });
      expect(JSON.stringify(sent.body)).not.toContain('hunter2');
    });
  });

  describe("Fastify's own errors", () => {
    it('body too large → 413 {"detail":"Request body is too large."}', () => {
      const sent = handle(fastifyError(413, 'FST_ERR_CTP_BODY_TOO_LARGE', 'Request body is too large'));
      expect(sent.status).toBe(413);
      expect(sent.body).toEqual({ detail: 'Request body is too large.' });
    });

    it('unsupported media type → 415 naming the content type', () => {
      const sent = handle(fastifyError(415, 'FST_ERR_CTP_INVALID_MEDIA_TYPE', 'Unsupported Media Type'), {
        headers: { 'content-type': 'text/csv' },
      });
      expect(sent.status).toBe(415);
      expect(sent.body).toEqual({ detail: 'Unsupported media type "text/csv" in request.' });
    });

    it('bad JSON → 400 "JSON parse error - …"', () => {
      const sent = handle(fastifyError(400, 'FST_ERR_CTP_INVALID_JSON_BODY', "Body is not valid JSON but content-type is set to 'application/json'"));
      expect(sent.status).toBe(400);
      expect(sent.body).toEqual({
        detail: "JSON parse error - Body is not valid JSON but content-type is set to 'application/json'",
      });
    });

    it('an empty JSON body → 400', () => {
      const sent = handle(fastifyError(400, 'FST_ERR_CTP_EMPTY_JSON_BODY', "Body cannot be empty when content-type is set to 'application/json'"));
      expect(sent.status).toBe(400);
      expect(sent.body).toEqual({ detail: 'JSON parse error - the body is empty.' });
    });

    it('a 5xx error object from Fastify is a plain 500, not its message', () => {
      const sent = handle(fastifyError(503, 'FST_ERR_SOMETHING', 'internal pool state'));
      expect(sent.status).toBe(500);
      expect(sent.body).toEqual({ detail: 'A server error occurred.' });
    });
  });

  describe('unknown errors', () => {
    it("Error('secret internals') → 500 without the message, logged", () => {
      const sent = handle(new Error('secret internals'));
      expect(sent.status).toBe(500);
      expect(sent.body).toEqual({ detail: 'A server error occurred.' });
      expect(JSON.stringify(sent.body)).not.toContain('secret');
      expect(sent.headers).toEqual({});
      expect(logged).toHaveBeenCalledTimes(1);
    });

    it.each<[string, unknown]>([
      ['a string', 'boom'],
      ['undefined', undefined],
      ['null', null],
      ['a plain object', { statusCode: 'teapot', message: 'secret internals' }],
    ])('%s thrown → 500', (_label, exception) => {
      const sent = handle(exception);
      expect(sent.status).toBe(500);
      expect(sent.body).toEqual({ detail: 'A server error occurred.' });
    });
  });
});
