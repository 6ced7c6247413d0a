import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpClient, newUser } from './support/http-client.js';
import { startServiceProcess } from './support/service-process.js';
import { startApp, type TestApp } from './support/test-app.js';

/**
 * CORS and the security headers over real HTTP, on the real AppModule. A browser's view of them
 * (a cross-origin page calling the API, Swagger UI under its CSP) is in browser.e2e-spec.ts.
 */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const FRONT_END = 'http://front.example.test:5173';
const OTHER_FRONT_END = 'https://admin.example.test';

describe('CORS and security headers', () => {
  let testApp: TestApp;
  let api: HttpClient;

  beforeAll(async () => {
    // TRUST_PROXY_HOPS=1: the app sits behind one proxy (Heroku's router), whose X-Forwarded-Proto it believes.
    testApp = await startApp({ CORS_ORIGINS: `${FRONT_END}, ${OTHER_FRONT_END}`, TRUST_PROXY_HOPS: '1' });
    api = new HttpClient(testApp.baseUrl);
  });

  afterAll(async () => {
    await testApp?.close();
  });

  const preflight = (path: string, origin: string, method = 'POST', requestHeaders = 'content-type,authorization') =>
    api.request('OPTIONS', path, {
      headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': requestHeaders },
    });

  const list = (value: string | null) => (value ?? '').split(',').map((item) => item.trim().toLowerCase()).filter(Boolean);

  async function loggedIn() {
    const user = newUser('cors');
    expect((await api.post('/api/register/', user)).status).toBe(201);
    const login = await api.request('POST', '/api/token/', { body: { username: user.username, password: user.password }, headers: { origin: FRONT_END } });
    expect(login.status).toBe(200);
    return login;
  }

  describe('CORS', () => {
    it('answers a preflight from a listed origin with 204, the methods and the request headers the API needs', async () => {
      for (const [path, method] of [['/api/token/', 'POST'], ['/api/me/', 'GET'], ['/api/sessions/0b1c5d1e-0000-4000-8000-000000000000/', 'DELETE']]) {
        for (const origin of [FRONT_END, OTHER_FRONT_END]) {
          const response = await preflight(path, origin, method);
          expect([path, origin, response.status]).toEqual([path, origin, 204]);
          expect(response.headers.get('access-control-allow-origin')).toBe(origin);
          expect(response.headers.get('access-control-allow-credentials')).toBe('true');
          expect(list(response.headers.get('access-control-allow-methods'))).toEqual(expect.arrayContaining(['get', 'post', 'delete']));
          expect(list(response.headers.get('access-control-allow-headers'))).toEqual(expect.arrayContaining(['authorization', 'content-type']));
          expect(list(response.headers.get('vary'))).toContain('origin');
          expect(Number(response.headers.get('access-control-max-age'))).toBeGreaterThan(0);
        }
      }
    });

    it('gives a listed origin the response and exposes Retry-After, WWW-Authenticate and X-Request-ID', async () => {
      const login = await loggedIn();
      expect(login.headers.get('access-control-allow-origin')).toBe(FRONT_END);
      expect(list(login.headers.get('vary'))).toContain('origin');
      expect(list(login.headers.get('access-control-expose-headers'))).toEqual(
        expect.arrayContaining(['retry-after', 'www-authenticate', 'x-request-id']),
      );
      // Errors too: a front end must be able to read a 401 and its challenge.
      const unauthorized = await api.request('GET', '/api/me/', { headers: { origin: FRONT_END } });
      expect(unauthorized.status).toBe(401);
      expect(unauthorized.headers.get('access-control-allow-origin')).toBe(FRONT_END);
      expect(unauthorized.headers.get('www-authenticate')).toBeTruthy();
    });

    it('gives an origin not on the list no Access-Control-Allow-Origin, exact matches only', async () => {
      const strangers = [
        'https://evil.example.test',
        'http://front.example.test:5174', // other port
        'https://front.example.test:5173', // other scheme
        'http://sub.front.example.test:5173', // subdomain
        'http://front.example.test', // port missing
        'null', // sandboxed iframes, file:// pages
      ];
      for (const origin of strangers) {
        const before = await preflight('/api/token/', origin);
        const actual = await api.request('POST', '/api/token/', { body: { username: 'x', password: 'y' }, headers: { origin } });
        expect([origin, before.headers.get('access-control-allow-origin'), actual.headers.get('access-control-allow-origin')]).toEqual([origin, null, null]);
        expect(list(actual.headers.get('vary'))).toContain('origin'); // caches must not serve one origin's answer to another
      }
    });

    it('refuses a wildcard, a path or a trailing slash in CORS_ORIGINS at boot, naming the variable', () => {
      for (const [value, problem] of [
        ['*', 'wildcards are not allowed'],
        ['https://*.example.com', 'wildcards are not allowed'],
        ['https://app.example.com/', 'is not a bare origin: expected "https://app.example.com"'],
        ['https://app.example.com/login', 'is not a bare origin'],
        ['https://app.example.com:443', 'is not a bare origin: expected "https://app.example.com"'],
        ['app.example.com', 'is not an origin'],
      ]) {
        const started = spawnSync(process.execPath, [join(ROOT, 'dist', 'main.js')], {
          cwd: ROOT,
          env: { ...process.env, NODE_OPTIONS: '', PORT: '0', CORS_ORIGINS: `http://localhost:5173,${value}` },
          encoding: 'utf8',
          timeout: 30_000,
        });
        expect([value, started.status]).toEqual([value, 1]);
        expect(`${started.stdout}${started.stderr}`).toContain(`Invalid environment variable CORS_ORIGINS: "${value}"`);
        expect(`${started.stdout}${started.stderr}`).toContain(problem);
      }
    });
  });

  describe('security headers', () => {
    function expectSecurityHeaders(what: string, headers: Headers) {
      expect([what, headers.get('x-content-type-options')]).toEqual([what, 'nosniff']);
      expect([what, headers.get('x-frame-options')]).toEqual([what, 'DENY']);
      expect([what, headers.get('content-security-policy')]).toEqual([what, expect.stringContaining("frame-ancestors 'none'")]);
      expect([what, headers.get('referrer-policy')]).toEqual([what, 'no-referrer']);
      expect([what, headers.get('x-powered-by')]).toEqual([what, null]);
    }

    // (A CORS preflight is answered before them: a 204 without a body, which no browser renders or sniffs.)
    it('are on every response: success, validation error, 401, 404, health, the OpenAPI document', async () => {
      const login = await loggedIn();
      const responses: [string, Headers][] = [
        ['200 login', login.headers],
        ['400 register', (await api.post('/api/register/', {})).headers],
        ['401 me', (await api.get('/api/me/')).headers],
        ['404', (await api.get('/api/nothing-here/')).headers],
        ['health', (await api.get('/health/live/')).headers],
        ['schema', (await api.get('/api/schema/')).headers],
      ];
      for (const [what, headers] of responses) expectSecurityHeaders(what, headers);
    });

    it('token, profile and session responses are Cache-Control: no-store (RFC 6749 §5.1), errors included', async () => {
      const login = await loggedIn();
      const { access, refresh } = login.body as { access: string; refresh: string };
      const refreshed = await api.post('/api/token/refresh/', { refresh });
      expect(refreshed.status).toBe(200);
      const other = await loggedIn(); // a second user's session, revoked below (with its own token)
      const otherAccess = (other.body as { access: string }).access;
      const otherSessions = await api.get('/api/sessions/', otherAccess);
      const sessions = await api.get('/api/sessions/', access);
      const responses: [string, number, Headers][] = [
        ['token', login.status, login.headers],
        ['refresh', refreshed.status, refreshed.headers],
        ['verify', ...(await api.post('/api/token/verify/', { token: access }).then((r) => [r.status, r.headers] as const))],
        ['bad refresh', ...(await api.post('/api/token/refresh/', { refresh: 'nope' }).then((r) => [r.status, r.headers] as const))],
        ['me', ...(await api.get('/api/me/', access).then((r) => [r.status, r.headers] as const))],
        ['me, no token', ...(await api.get('/api/me/').then((r) => [r.status, r.headers] as const))],
        ['sessions', sessions.status, sessions.headers],
        ['revoke session', ...(await api.delete(`/api/sessions/${(otherSessions.body as { id: string }[])[0].id}/`, otherAccess).then((r) => [r.status, r.headers] as const))],
        ['logout', ...(await api.post('/api/logout/', { refresh: (refreshed.body as { refresh: string }).refresh }, (refreshed.body as { access: string }).access).then((r) => [r.status, r.headers] as const))],
      ];
      expect(responses.map(([what, status]) => [what, status])).toEqual([
        ['token', 200], ['refresh', 200], ['verify', 200], ['bad refresh', 401], ['me', 200], ['me, no token', 401],
        ['sessions', 200], ['revoke session', 204], ['logout', 205],
      ]);
      for (const [what, , headers] of responses) {
        expect([what, headers.get('cache-control'), headers.get('pragma')]).toEqual([what, 'no-store', 'no-cache']);
      }
      // Outside the API (health) nothing is forced.
      expect((await api.get('/health/live/')).headers.get('cache-control')).not.toBe('no-store');
    });

    it('sends HSTS only when the request came over HTTPS through the trusted proxy', async () => {
      const viaHttps = await api.request('GET', '/health/live/', { headers: { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.9' } });
      expect(viaHttps.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
      const viaHttp = await api.request('GET', '/health/live/', { headers: { 'x-forwarded-proto': 'http' } });
      expect(viaHttp.headers.get('strict-transport-security')).toBeNull();
      expect((await api.get('/health/live/')).headers.get('strict-transport-security')).toBeNull();

      // Without a trusted proxy (TRUST_PROXY_HOPS=0, the default) the header is anyone's to forge: ignored.
      const direct = await startApp({ TRUST_PROXY_HOPS: '0' });
      try {
        const forged = await new HttpClient(direct.baseUrl).request('GET', '/health/live/', { headers: { 'x-forwarded-proto': 'https' } });
        expect(forged.status).toBe(200);
        expect(forged.headers.get('strict-transport-security')).toBeNull();
        expect(forged.headers.get('x-content-type-options')).toBe('nosniff');
      } finally {
        await direct.close();
      }
    });
  });

  it('Swagger UI is served under a CSP that allows its own scripts, styles and the document (dist/main.js)', async () => {
    // Jest cannot load @fastify/static (ESM), so the UI is checked on the compiled service.
    const service = await startServiceProcess('main', { SWAGGER_UI_ENABLED: 'true' });
    try {
      const page = await fetch(`${service.baseUrl}/api/docs`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toContain('text/html');
      const csp = page.headers.get('content-security-policy') ?? '';
      const directive = (name: string) => csp.split(';').map((part) => part.trim()).find((part) => part.startsWith(`${name} `)) ?? '';
      expect(directive('script-src')).toBe("script-src 'self'");
      expect(directive('style-src')).toContain("'unsafe-inline'"); // the UI's inline <style>
      expect(directive('img-src')).toContain('data:'); // its inline SVG icons
      expect(csp).not.toContain('upgrade-insecure-requests'); // would break the UI on a plain-HTTP port
      const html = await page.text();
      // Every script the page loads is same-origin (no inline <script>, which script-src 'self' would block).
      const scripts = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
      expect(scripts.length).toBeGreaterThan(0);
      for (const [, attributes, body] of scripts) {
        expect(body.trim()).toBe('');
        const src = /src=["']([^"']+)["']/.exec(attributes)![1];
        const url = new URL(src, `${service.baseUrl}/api/docs/`);
        expect(url.origin).toBe(service.baseUrl);
        const script = await fetch(url);
        expect([src, script.status]).toEqual([src, 200]);
        expect(script.headers.get('content-type')).toContain('javascript');
      }
    } finally {
      await service.stop();
    }
  });
});
