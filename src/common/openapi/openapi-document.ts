import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';

/** Set on operations by `@Public()`; the builder turns it into `security: []` (and drops it). */
export const PUBLIC_OPERATION_EXTENSION = 'x-public-operation';

/**
 * The OpenAPI document of the app's controllers: what `/api/schema/` serves and what
 * `npm run openapi` commits as `openapi.json`. It needs the module graph only (Nest's preview mode
 * will do: no database, no Redis).
 */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Auth service')
      .setDescription(
        'Register, log in, JWT access/refresh with rotation, sessions and revocation. Compatible with the Django simplejwt contract. ' +
          'Errors follow Django REST framework: `{"field": ["message"]}` for field errors, `{"detail": "...", "code": "..."}` otherwise.',
      )
      .setVersion('1')
      .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
      // Protected unless marked public, like the global JWT guard.
      .addSecurityRequirements('bearer')
      .build(),
  );
  return withPublicOperations(withTrailingSlashes(document));
}

/** The contract's paths end with "/" (Django); Nest drops it when it registers a route. */
function withTrailingSlashes(document: OpenAPIObject): OpenAPIObject {
  document.paths = Object.fromEntries(
    Object.entries(document.paths).map(([path, item]) => [path.endsWith('/') ? path : `${path}/`, item]),
  );
  return document;
}

/** `security: []` on the operations `@Public()` opened (Nest's decorators cannot express an empty list). */
function withPublicOperations(document: OpenAPIObject): OpenAPIObject {
  for (const item of Object.values(document.paths)) {
    for (const operation of Object.values(item) as Array<Record<string, unknown>>) {
      if (typeof operation !== 'object' || operation === null || !(PUBLIC_OPERATION_EXTENSION in operation)) continue;
      delete operation[PUBLIC_OPERATION_EXTENSION];
      operation.security = [];
    }
  }
  return document;
}
