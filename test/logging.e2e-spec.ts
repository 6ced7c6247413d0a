import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { HttpClient, newUser } from './support/http-client.js';
import { type ServiceProcess, startServiceProcess } from './support/service-process.js';
import { linkParameters, SmtpSink } from './support/smtp-sink.js';
import { waitFor } from './support/wait.js';

const SIGNING_KEY = 'logging-e2e-signing-key-of-enough-length-0123456789';
const RESET_SUBJECT = /reset your password/i;

/**
 * Production logs, from the real processes (dist/main.js and dist/worker.js in production mode, at
 * the most verbose level): one JSON line per request with its request id, and not one secret that the
 * flow used — passwords, tokens, the signing key, the reset link and its token — anywhere in them.
 */
describe('production logs', () => {
  let smtp: SmtpSink;
  let web: ServiceProcess;
  let worker: ServiceProcess;
  let api: HttpClient;

  beforeAll(async () => {
    smtp = await SmtpSink.start();
    const env = {
      NODE_ENV: 'production',
      LOG_LEVEL: 'verbose',
      JWT_SIGNING_KEY: SIGNING_KEY,
      DATABASE_SSL: 'off',
      SMTP_URL: smtp.url,
      APP_URL: 'https://front.example',
      OUTBOX_RELAY_INTERVAL_MS: '200',
    };
    web = await startServiceProcess('main', env);
    worker = await startServiceProcess('worker', env);
    api = new HttpClient(web.baseUrl);
  });

  afterAll(async () => {
    await Promise.all([web?.stop(), worker?.stop()]);
    await smtp?.close();
  });

  /** The JSON lines the web process wrote (every stdout/stderr line must be one). */
  const jsonLines = (process: ServiceProcess) =>
    process
      .output()
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => {
        try {
          return JSON.parse(line) as Record<string, unknown>;
        } catch {
          throw new Error(`not a JSON log line: ${line}`);
        }
      });

  it('a full flow leaves one JSON line per request and no secret in either process log', async () => {
    const user = newUser('logs');
    const newPassword = `${user.password}-changed`;
    expect((await api.post('/api/register/', user)).status).toBe(201);
    const login = await api.post('/api/token/', { username: user.username, password: user.password });
    expect(login.status).toBe(200);
    const refreshed = await api.post('/api/token/refresh/', { refresh: login.body.refresh });
    expect(refreshed.status).toBe(200);
    const me = await api.request('GET', '/api/me/', { token: refreshed.body.access, headers: { 'x-request-id': 'heroku-router-id-0123456789abcdef' } });
    expect(me.status).toBe(200);
    expect(me.headers.get('x-request-id')).toBe('heroku-router-id-0123456789abcdef');
    // A wrong password and a bad bearer token are logged too (as requests), never their values.
    expect((await api.post('/api/token/', { username: user.username, password: 'wrong-password-in-the-log?' })).status).toBe(401);
    expect((await api.get('/api/me/', `${refreshed.body.access}x`)).status).toBe(401);
    expect((await api.post('/api/password/reset/', { email: user.email })).status).toBe(202);
    const mail = await smtp.waitFor(user.email, RESET_SUBJECT);
    const link = linkParameters(mail);
    expect((await api.post('/api/password/reset/confirm/', { uid: link.uid, token: link.token, new_password: newPassword })).status).toBe(200);
    const again = await api.post('/api/token/', { username: user.email, password: newPassword });
    expect(again.status).toBe(200);
    expect((await api.post('/api/logout/', { refresh: again.body.refresh }, again.body.access)).status).toBe(205);

    // The worker logs the e-mail it sent (by user id); the web process logs a request once its answer is sent.
    await waitFor(async () => worker.output().includes('sent password-reset'), 10_000, 'worker log line');
    await waitFor(async () => web.output().includes('"route":"/api/logout","status":205'), 10_000, 'logout log line');
    const secrets = {
      password: user.password,
      'new password': newPassword,
      'wrong password': 'wrong-password-in-the-log?',
      'signing key': SIGNING_KEY,
      'access token': login.body.access,
      'refresh token': login.body.refresh,
      'rotated access token': refreshed.body.access,
      'rotated refresh token': refreshed.body.refresh,
      'second access token': again.body.access,
      'second refresh token': again.body.refresh,
      'reset link': link.url,
      'reset token': link.token,
      // A token's signature alone would be enough to matter.
      'access token signature': login.body.access.split('.')[2],
    };
    for (const [name, process] of [['web', web], ['worker', worker]] as const) {
      const log = process.output();
      const leaked = Object.entries(secrets).filter(([, value]) => log.includes(value)).map(([what]) => what);
      expect([name, leaked]).toEqual([name, []]);
      jsonLines(process); // every line parses
    }

    const requests = jsonLines(web).filter((line) => line.msg === 'request');
    const meLine = requests.find((line) => line.req_id === 'heroku-router-id-0123456789abcdef');
    expect(meLine).toMatchObject({ level: 'info', method: 'GET', route: '/api/me', status: 200, user_id: me.body.id });
    expect(typeof meLine?.duration_ms).toBe('number');
    // register, 2 logins, refresh, me, bad me, reset, confirm, third login, logout, + the health probes.
    const flow = requests.filter((line) => line.route !== '/health/live');
    expect(flow.map((line) => `${line.method} ${line.route} ${line.status}`)).toEqual([
      'POST /api/register 201',
      'POST /api/token 200',
      'POST /api/token/refresh 200',
      'GET /api/me 200',
      'POST /api/token 401',
      'GET /api/me 401',
      'POST /api/password/reset 202',
      'POST /api/password/reset/confirm 200',
      'POST /api/token 200',
      'POST /api/logout 205',
    ]);
    // Each request has its own id, generated when the router sent none.
    expect(new Set(requests.map((line) => line.req_id)).size).toBe(requests.length);
  });

  it('X-Request-ID: a well-formed one is kept and echoed; an overlong or unsafe one is replaced', async () => {
    const ok = await api.request('GET', '/health/live/', { headers: { 'x-request-id': 'a1b2c3d4-e5f6-4711-8899-aabbccddeeff' } });
    expect(ok.headers.get('x-request-id')).toBe('a1b2c3d4-e5f6-4711-8899-aabbccddeeff');
    for (const bad of ['x'.repeat(201), 'id with spaces', 'id"},{"level":"fatal']) {
      const response = await api.request('GET', '/health/live/', { headers: { 'x-request-id': bad } });
      const echoed = response.headers.get('x-request-id');
      expect(echoed).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      // The request's line is written after the answer (onResponse): wait for it, then check it.
      await waitFor(async () => web.output().includes(echoed!));
      expect(web.output()).not.toContain(bad);
    }
    // A 404 gets one too.
    const missing = await api.get('/no/such/route/');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('x-request-id')).toBeTruthy();
  });
});
