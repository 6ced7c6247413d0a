import { type INestApplication, Logger } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { IncomingMessage } from 'node:http';
import { SwaggerModule } from '@nestjs/swagger';
import { LogController } from 'fastify';
import type { Logger as PinoLogger } from 'pino';
import type { Principal } from './common/auth/principal.js';
import { type AppConfig, logLevelsFrom } from './config/app.config.js';
import { DrfExceptionFilter } from './common/filters/drf-exception.filter.js';
import { useHttpSecurity } from './common/http/http-security.js';
import { useDepthLimitedJsonParser } from './common/http/json-body.js';
import { REQUEST_ID_HEADER, requestIdFrom } from './common/http/request-id.js';
import { buildOpenApiDocument } from './common/openapi/openapi-document.js';
import { DrfValidationPipe } from './common/pipes/drf-validation.pipe.js';
import { Metrics } from './metrics/metrics.js';

export const OPENAPI_JSON_PATH = '/api/schema/';
export const SWAGGER_UI_PATH = 'api/docs';

/**
 * The Fastify adapter with the service's HTTP limits (body size, trusted proxies) and request ids.
 * `logger` (JSON logs): Fastify logs through it, each request's lines carrying its `req_id`.
 */
export function createFastifyAdapter(config: AppConfig, logger?: PinoLogger): FastifyAdapter {
  return new FastifyAdapter({
    ...(logger ? { loggerInstance: logger } : {}),
    // One line per request, written by observeRequests below, instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'req_id' }),
    // The router's X-Request-ID when it is well-formed, else a new UUID (never copied unchecked).
    requestIdHeader: false,
    genReqId: (request: IncomingMessage) => requestIdFrom(request.headers[REQUEST_ID_HEADER]),
    bodyLimit: config.bodyLimit,
    // Heroku's router appends the client address to X-Forwarded-For; trust exactly that many hops.
    // (Fastify 5 refuses a bare hop count, since it cannot check the peer; the service is only
    // reachable through the router on Heroku, so the hop count is the right rule there.)
    trustProxy: config.trustProxyHops > 0 ? (_address: string, hop: number) => hop < config.trustProxyHops : false,
    // Nest registers routes without their trailing slash; Django's clients call them with it
    // ("/api/me/"). Matching both keeps the contract, and the OpenAPI document shows the slash.
    routerOptions: { ignoreTrailingSlash: true },
    // Heroku's router closes idle connections after 55 s; keep ours open longer than that.
    keepAliveTimeout: 65_000,
  });
}

/** Everything main.ts and the e2e tests share: CORS and security headers, body parsing, validation, errors, OpenAPI. */
export function configureApp(app: INestApplication, config: AppConfig): void {
  useHttpSecurity(app as NestFastifyApplication, {
    corsOrigins: config.corsOrigins,
    cacheablePaths: [OPENAPI_JSON_PATH, `/${SWAGGER_UI_PATH}`],
  });
  useDepthLimitedJsonParser(app as NestFastifyApplication, config.bodyLimit);
  app.useGlobalPipes(new DrfValidationPipe());
  app.useGlobalFilters(new DrfExceptionFilter());
  observeRequests(app as NestFastifyApplication, config);
  if (config.swaggerEnabled) {
    const document = buildOpenApiDocument(app);
    SwaggerModule.setup(SWAGGER_UI_PATH, app as NestFastifyApplication, document, {
      jsonDocumentUrl: OPENAPI_JSON_PATH,
      // The UI needs @fastify/static (ESM only), which Jest cannot load on Node 20: tests turn the UI off.
      ui: config.swaggerUiEnabled,
    });
  }
}

/**
 * Every request: its id echoed in X-Request-ID (so a client's report can be found in the log), one
 * log line when it completes — JSON with method, route template, status, duration, user id and
 * request id in production; a readable line in development — and its duration in the metrics.
 * Only those fields are logged: no header, body or query string, so no credential.
 */
function observeRequests(app: NestFastifyApplication, config: AppConfig): void {
  const metrics = app.get(Metrics, { strict: false });
  const logger = new Logger('HTTP');
  const json = config.logFormat === 'json';
  // Request lines are at `log` (pino's info): below it (LOG_LEVEL=warn) nothing is built for them.
  const logEach = logLevelsFrom(config.logLevel).includes('log');
  const fastify = app.getHttpAdapter().getInstance();
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header(REQUEST_ID_HEADER, request.id);
    done();
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url;
    const durationMs = reply.elapsedTime;
    metrics.httpRequest(request.method, route, reply.statusCode, durationMs / 1000);
    if (!logEach) return done();
    const userId = (request as { user?: Principal }).user?.userId ?? null;
    if (json) {
      request.log.info(
        { method: request.method, route: route ?? null, status: reply.statusCode, duration_ms: Math.round(durationMs * 10) / 10, user_id: userId },
        'request',
      );
    } else {
      logger.log(`${request.method} ${route ?? '(no route)'} ${reply.statusCode} ${durationMs.toFixed(1)} ms${userId === null ? '' : ` user ${userId}`} [${request.id}]`);
    }
    done();
  });
}

