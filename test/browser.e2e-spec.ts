import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import { type Browser, chromium, type Page } from 'playwright-core';
import { newUser } from './support/http-client.js';
import { freePort } from './support/redis-process.js';
import { type ServiceProcess, startServiceProcess } from './support/service-process.js';

/**
 * A real browser: headless Chromium (Debian's `chromium` package; `.ci/run` installs it) driven by
 * playwright-core, which downloads no browser. The service runs as dist/main.js with CORS_ORIGINS
 * naming one loopback origin; a page from that origin runs the whole token flow with fetch, a page
 * from another loopback origin must be blocked by the browser's CORS check.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Every browser wait gives up after this long. */
const STEP_TIMEOUT_MS = 15_000;

/**
 * The front end's page. `runFlow` is what a single-page app does: register, log in, read the
 * profile, refresh (rotation), log out, then find the old access token refused. Each step reports
 * its status and what the page could read of the response.
 */
const FRONT_END_PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>front end</title><link rel="icon" href="data:,"></head>
<body><p id="origin"></p>
<script>
document.getElementById('origin').textContent = location.origin;
async function call(api, method, path, { body, token } = {}) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = 'Bearer ' + token;
  try {
    const response = await fetch(api + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await response.text();
    return {
      ok: true,
      status: response.status,
      body: text ? JSON.parse(text) : null,
      cacheControl: response.headers.get('cache-control'),
      wwwAuthenticate: response.headers.get('www-authenticate'),
    };
  } catch (error) {
    return { ok: false, error: String(error) };
  }
}
window.runFlow = async (api, user) => {
  const steps = {};
  steps.register = await call(api, 'POST', '/api/register/', { body: user });
  steps.login = await call(api, 'POST', '/api/token/', { body: { username: user.username, password: user.password } });
  const first = steps.login.body || {};
  steps.me = await call(api, 'GET', '/api/me/', { token: first.access });
  steps.refresh = await call(api, 'POST', '/api/token/refresh/', { body: { refresh: first.refresh } });
  const second = steps.refresh.body || {};
  steps.logout = await call(api, 'POST', '/api/logout/', { body: { refresh: second.refresh }, token: second.access });
  steps.meAfterLogout = await call(api, 'GET', '/api/me/', { token: second.access });
  steps.rotated = Boolean(first.refresh && second.refresh && first.refresh !== second.refresh);
  return steps;
};
window.tryLogin = (api) => call(api, 'POST', '/api/token/', { body: { username: 'nobody', password: 'nothing' } });
window.tryHealth = (api) => call(api, 'GET', '/health/live/');
</script></body></html>`;

/** What FRONT_END_PAGE defines on its window (the tests are compiled without the DOM library). */
interface StepResult {
  ok: boolean;
  status?: number;
  error?: string;
  body?: any;
  cacheControl?: string | null;
  wwwAuthenticate?: string | null;
}
interface FrontEnd {
  runFlow(api: string, user: { username: string; email: string; password: string }): Promise<Record<string, StepResult> & { rotated: boolean }>;
  tryLogin(api: string): Promise<StepResult>;
  tryHealth(api: string): Promise<StepResult>;
}

async function startStaticServer(): Promise<{ server: Server; origin: string }> {
  const port = await freePort();
  const server = createServer((request, response) => {
    if (request.url === '/' || request.url === '/index.html') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(FRONT_END_PAGE);
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${port}` };
}

describe('a browser front end on another origin (headless Chromium)', () => {
  let service: ServiceProcess;
  let browser: Browser;
  let allowed: { server: Server; origin: string };
  let stranger: { server: Server; origin: string };

  beforeAll(async () => {
    [allowed, stranger] = await Promise.all([startStaticServer(), startStaticServer()]);
    service = await startServiceProcess('main', { CORS_ORIGINS: allowed.origin, SWAGGER_UI_ENABLED: 'true' });
    browser = await chromium.launch({ executablePath: CHROMIUM, timeout: 30_000 });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await service?.stop();
    for (const site of [allowed, stranger]) {
      if (site) await new Promise((resolve) => site.server.close(resolve));
    }
  });

  async function open(origin: string): Promise<{ page: Page; console: string[] }> {
    const page = await browser.newPage();
    page.setDefaultTimeout(STEP_TIMEOUT_MS);
    const console: string[] = [];
    page.on('console', (message) => console.push(message.text()));
    await page.goto(`${origin}/`);
    expect(await page.textContent('#origin')).toBe(origin);
    return { page, console };
  }

  it('a page from a listed origin registers, logs in, reads /api/me/, refreshes and logs out with fetch', async () => {
    const { page, console } = await open(allowed.origin);
    try {
      const user = newUser('browser');
      const steps = await page.evaluate(([api, body]) => (globalThis as unknown as FrontEnd).runFlow(api, body), [service.baseUrl, user] as const);
      const summary = Object.fromEntries(
        Object.entries(steps as Record<string, StepResult | boolean>).map(([step, result]) => [
          step,
          typeof result === 'boolean' ? result : result.ok ? result.status : result.error,
        ]),
      );
      expect({ summary, console }).toEqual({
        summary: { register: 201, login: 200, me: 200, refresh: 200, logout: 205, meAfterLogout: 401, rotated: true },
        console: [expect.stringContaining('401')], // the browser logs the last step's 401 itself
      });
      expect(steps.register.body).toMatchObject({ username: user.username });
      expect(steps.me.body).toMatchObject({ username: user.username, email: user.email.toLowerCase() });
      expect(Object.keys(steps.login.body).sort()).toEqual(['access', 'refresh']);
      // The page can read the headers the API exposes or that are CORS-safelisted.
      expect(steps.login.cacheControl).toBe('no-store');
      expect(steps.meAfterLogout.wwwAuthenticate).toMatch(/^Bearer /);
    } finally {
      await page.close();
    }
  });

  it('a page from an origin not on the list cannot read any answer: the browser blocks it', async () => {
    const { page, console } = await open(stranger.origin);
    try {
      const login = await page.evaluate((api) => (globalThis as unknown as FrontEnd).tryLogin(api), service.baseUrl);
      const health = await page.evaluate((api) => (globalThis as unknown as FrontEnd).tryHealth(api), service.baseUrl);
      expect(login).toEqual({ ok: false, error: 'TypeError: Failed to fetch' });
      expect(health).toEqual({ ok: false, error: 'TypeError: Failed to fetch' });
      const blocked = console.filter((line) => line.includes('has been blocked by CORS policy'));
      expect(blocked).toHaveLength(2);
      expect(blocked[0]).toContain(`from origin '${stranger.origin}'`);
      // The same calls from the listed origin work (so the failure above is the CORS check, not the service).
      const { page: friendly } = await open(allowed.origin);
      try {
        expect(await friendly.evaluate((api) => (globalThis as unknown as FrontEnd).tryLogin(api), service.baseUrl)).toMatchObject({ ok: true, status: 401 });
        expect(await friendly.evaluate((api) => (globalThis as unknown as FrontEnd).tryHealth(api), service.baseUrl)).toMatchObject({ ok: true, status: 200 });
      } finally {
        await friendly.close();
      }
    } finally {
      await page.close();
    }
  });

  it('Swagger UI renders every operation under its Content-Security-Policy, with no violation', async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(STEP_TIMEOUT_MS);
    try {
      const problems: string[] = [];
      page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(`console: ${message.text()}`);
      });
      await page.addInitScript(() => {
        type Violation = { violatedDirective: string; blockedURI: string };
        const { document } = globalThis as unknown as { document: { addEventListener(type: string, listener: (event: Violation) => void): void } };
        document.addEventListener('securitypolicyviolation', (event) => {
          console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`);
        });
      });
      const response = await page.goto(`${service.baseUrl}/api/docs`);
      expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");
      await page.waitForSelector('.swagger-ui .info .title');
      expect(await page.textContent('.swagger-ui .info .title')).toContain('Auth service');
      // The operations come from /api/schema/, fetched by the UI's script (connect-src 'self').
      await page.waitForSelector('.opblock');
      expect(await page.locator('.opblock').count()).toBeGreaterThanOrEqual(15);
      expect(problems.filter((line) => !line.includes('favicon'))).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
