import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** The request headers a browser front end sends to this API (bearer tokens, JSON or form bodies). */
export const CORS_ALLOWED_HEADERS = ['authorization', 'content-type'];

/** Response headers a front end must read: rate limits, the auth challenge, the request id for support. */
export const CORS_EXPOSED_HEADERS = ['Retry-After', 'WWW-Authenticate', 'X-Request-ID'];

/** Only HTTPS responses carry it, and only when the request reached us over HTTPS (see useHttpSecurity). */
export const HSTS_VALUE = 'max-age=31536000; includeSubDomains';

export interface HttpSecurityOptions {
  /** Exact origins allowed to call the API from a browser (CORS_ORIGINS). */
  corsOrigins: string[];
  /** Paths under /api/ that may be cached (the OpenAPI document, Swagger UI): every other is no-store. */
  cacheablePaths: string[];
}

/**
 * Browser-facing protections, on every response — 404s and errors included:
 *
 * - CORS for an allowlist of exact origins (Nest's `enableCors`, i.e. @fastify/cors in an onRequest
 *   hook that runs before guards, so a preflight is answered 204 without a token). An origin not on
 *   the list gets no Access-Control-Allow-Origin, and the browser blocks the response.
 * - Security headers (Nest's built-in `useSecurityHeaders`: helmet 8's headers and defaults, in the
 *   adapter's first request hook): nosniff, frame protection (X-Frame-Options DENY and CSP
 *   frame-ancestors 'none': nothing embeds an auth API), Referrer-Policy no-referrer, a CSP under
 *   which Swagger UI (same-origin scripts and styles, inline styles, data: images) still works.
 * - HSTS only when the request came over HTTPS (RFC 6797 §7.2: never over plain HTTP): on the
 *   socket, or as X-Forwarded-Proto from a proxy the app trusts (TRUST_PROXY_HOPS; Fastify ignores
 *   the header otherwise, so a client cannot forge it).
 * - `Cache-Control: no-store` and `Pragma: no-cache` on the API's responses (RFC 6749 §5.1 for
 *   tokens; profiles and sessions are personal too). Set before the handler runs, so a route may
 *   still override it with `@Header()`.
 */
export function useHttpSecurity(app: NestFastifyApplication, options: HttpSecurityOptions): void {
  app.enableCors({
    // A list is compared with the Origin header exactly; an empty list allows no origin.
    origin: options.corsOrigins,
    credentials: true,
    methods: ['GET', 'POST', 'DELETE'],
    allowedHeaders: CORS_ALLOWED_HEADERS,
    exposedHeaders: CORS_EXPOSED_HEADERS,
    optionsSuccessStatus: 204,
    // Browsers cache a preflight this long (Chromium caps it at 2 hours).
    maxAge: 600,
  });

  app.useSecurityHeaders({
    contentSecurityPolicy: {
      directives: {
        frameAncestors: ["'none'"],
        // Upgrading subresources is HSTS's job (sent over HTTPS only, see below). Over plain HTTP
        // this directive breaks Swagger UI's scripts wherever the browser does not exempt the host
        // (Chromium exempts loopback; a LAN address, or Safari on localhost, is upgraded and fails).
        upgradeInsecureRequests: null,
      },
    },
    xFrameOptions: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: false,
  });

  // Paths match with or without their trailing slash (routes do, see createFastifyAdapter).
  const cacheablePrefixes = options.cacheablePaths.map((path) => path.replace(/\/+$/, ''));
  const cacheable = (path: string) =>
    !path.startsWith('/api/') || cacheablePrefixes.some((prefix) => path === prefix || path.startsWith(`${prefix}/`));
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
      // request.protocol reads X-Forwarded-Proto only from a trusted proxy (trustProxy in createFastifyAdapter).
      if (request.protocol === 'https') reply.header('Strict-Transport-Security', HSTS_VALUE);
      const path = request.url.split('?', 1)[0];
      if (!cacheable(path)) {
        reply.header('Cache-Control', 'no-store');
        reply.header('Pragma', 'no-cache');
      }
      done();
    });
}
