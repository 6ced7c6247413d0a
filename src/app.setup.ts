import type { INestApplication } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { SwaggerModule } from '@nestjs/swagger';
import type { AppConfig } from './config/app.config.js';
import { DrfExceptionFilter } from './common/filters/drf-exception.filter.js';
import { useDepthLimitedJsonParser } from './common/http/json-body.js';
import { buildOpenApiDocument } from './common/openapi/openapi-document.js';
import { DrfValidationPipe } from './common/pipes/drf-validation.pipe.js';

export const OPENAPI_JSON_PATH = '/api/schema/';
export const SWAGGER_UI_PATH = 'api/docs';

/** The Fastify adapter with the service's HTTP limits (body size, trusted proxies). */
export function createFastifyAdapter(config: AppConfig): FastifyAdapter {
  return new FastifyAdapter({
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

/** Everything main.ts and the e2e tests share: body parsing, validation, errors, OpenAPI. */
export function configureApp(app: INestApplication, config: AppConfig): void {
  useDepthLimitedJsonParser(app as NestFastifyApplication, config.bodyLimit);
  app.useGlobalPipes(new DrfValidationPipe());
  app.useGlobalFilters(new DrfExceptionFilter());
  if (config.swaggerEnabled) {
    const document = buildOpenApiDocument(app);
    SwaggerModule.setup(SWAGGER_UI_PATH, app as NestFastifyApplication, document, {
      jsonDocumentUrl: OPENAPI_JSON_PATH,
      // The UI needs @fastify/static (ESM only), which Jest cannot load on Node 20: tests turn the UI off.
      ui: config.swaggerUiEnabled,
    });
  }
}
