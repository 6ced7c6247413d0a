import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpClient, newUser } from './support/http-client.js';
import { startServiceProcess } from './support/service-process.js';
import { PgTlsServer, RedisTlsServer } from './support/tls-servers.js';
import { waitFor } from './support/wait.js';

/**
 * What a Heroku deploy does, against servers shaped like Heroku's add-ons: a PostgreSQL that takes
 * TLS connections only (self-signed certificate; pg_hba.conf rejects plain text) reached through a
 * DATABASE_URL without sslmode, and a TLS-only Redis with a self-signed certificate behind a
 * rediss:// URL. The release phase (`node dist/cli/migrate.js`), the web and the worker processes
 * run with the config vars app.json sets (read from it) and the add-ons' URLs.
 */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

interface AppJson {
  formation: Record<string, { quantity: number }>;
  addons: { plan: string; as?: string }[];
  env: Record<string, { value?: string; generator?: string; required?: boolean }>;
}
const APP_JSON = JSON.parse(readFileSync(join(ROOT, 'app.json'), 'utf8')) as AppJson;

/** The config vars a deploy from app.json gets: its values, and its generated secrets (Heroku's `secret` is 64 hex digits). */
function appJsonEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(APP_JSON.env)
      .filter(([, variable]) => variable.value !== undefined || variable.generator === 'secret')
      .map(([name, variable]) => [name, variable.value ?? randomBytes(32).toString('hex')]),
  );
}

/** Runs a compiled CLI to completion (asynchronously: the servers it talks to are in this process's care). */
function runCli(script: string, env: Record<string, string>): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'dist', script)], {
      cwd: ROOT,
      env: { ...process.env, NODE_OPTIONS: '', LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, output });
    });
  });
}

describe('Heroku: TLS to PostgreSQL and Redis with self-signed certificates', () => {
  let postgres: PgTlsServer;
  let redis: RedisTlsServer;
  /** The config vars of app.json; DATABASE_URL and REDIS_URL come from the add-ons. */
  let herokuEnv: Record<string, string>;

  beforeAll(async () => {
    [postgres, redis] = await Promise.all([PgTlsServer.start(), RedisTlsServer.start()]);
    herokuEnv = {
      // Variables of the test run that app.json does not set are unset, as on a fresh app.
      DATABASE_SSL: '',
      SWAGGER_ENABLED: '',
      SWAGGER_UI_ENABLED: '',
      ...appJsonEnv(),
      // What the add-ons attach.
      DATABASE_URL: postgres.url,
      REDIS_URL: redis.url,
    };
  }, 90_000);

  afterAll(async () => {
    await Promise.allSettled([postgres?.close(), redis?.close()]);
  });

  /** The app's connections as the server sees them: how many, and how many over TLS. */
  async function appConnections(applicationName: string) {
    const [row] = await postgres.admin<{ total: number; tls: number }>(
      `SELECT count(*)::int AS total, count(*) FILTER (WHERE s.ssl)::int AS tls
         FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
        WHERE a.usename = '${PgTlsServer.USER}' AND a.application_name = '${applicationName}'`,
    );
    return row;
  }

  it('app.json sets production, the trusted router, Redis TLS and a generated key; adds both add-ons; runs web and worker', () => {
    const env = appJsonEnv();
    expect(env).toMatchObject({ NODE_ENV: 'production', TRUST_PROXY_HOPS: '1', REDIS_TLS_REJECT_UNAUTHORIZED: 'false' });
    expect(APP_JSON.env.JWT_SIGNING_KEY).toMatchObject({ generator: 'secret' });
    expect(APP_JSON.addons.map((addon) => addon.plan.split(':')[0]).sort()).toEqual(['heroku-postgresql', 'heroku-redis']);
    expect(APP_JSON.formation.web.quantity).toBeGreaterThanOrEqual(1);
    expect(APP_JSON.formation.worker.quantity).toBeGreaterThanOrEqual(1);
    // Every process type of the formation, and the release phase, are Procfile lines.
    const procfile = readFileSync(join(ROOT, 'Procfile'), 'utf8');
    for (const type of ['release', ...Object.keys(APP_JSON.formation)]) expect(procfile).toMatch(new RegExp(`^${type}: `, 'm'));
  });

  it('the server really refuses plain text: DATABASE_SSL=off fails the release phase and the web process', async () => {
    const release = await runCli('cli/migrate.js', { ...herokuEnv, DATABASE_SSL: 'off' });
    expect(release.status).toBe(1);
    expect(release.output).toContain('pg_hba.conf rejects connection');
    expect(release.output).toContain('no encryption');
    expect(release.output).not.toContain(PgTlsServer.PASSWORD);

    const web = await startServiceProcess('main', { ...herokuEnv, DATABASE_SSL: 'off' }).then(
      async (service) => {
        await service.stop();
        return 'started';
      },
      (error: Error) => error.message,
    );
    expect(web).toContain('exited early');
    expect(web).toContain('no encryption');
  });

  it('the release phase migrates over TLS with a DATABASE_URL shaped like Heroku\'s (no sslmode), and again is a no-op', async () => {
    const first = await runCli('cli/migrate.js', herokuEnv);
    expect([first.status, first.output]).toEqual([0, expect.stringContaining('applied ')]);
    const second = await runCli('cli/migrate.js', herokuEnv);
    expect([second.status, second.output]).toEqual([0, expect.stringContaining('no pending migrations')]);
    const [{ migrations }] = await postgres.admin<{ migrations: number }>('SELECT count(*)::int AS migrations FROM typeorm_migrations', PgTlsServer.DATABASE);
    expect(migrations).toBeGreaterThan(0);
  });

  it('sslmode=require added to the URL by hand means TLS without a certificate check (not pg 8\'s verify-full)', async () => {
    const byHand = await runCli('cli/migrate.js', { ...herokuEnv, DATABASE_URL: `${postgres.url}?sslmode=require` });
    expect([byHand.status, byHand.output]).toEqual([0, expect.stringContaining('no pending migrations')]);
    // verify-full, asked for explicitly, does check the certificate, and this one is self-signed.
    const verifyFull: Record<string, string>[] = [{ DATABASE_SSL: 'verify-full' }, { DATABASE_URL: `${postgres.url}?sslmode=verify-full` }];
    for (const asked of verifyFull) {
      const verified = await runCli('cli/migrate.js', { ...herokuEnv, ...asked });
      expect(verified.status).toBe(1);
      expect(verified.output).toContain('self-signed certificate');
    }
  });

  it('the web and worker processes run in production over TLS to both, and the API answers', async () => {
    const web = await startServiceProcess('main', herokuEnv);
    const worker = await startServiceProcess('worker', herokuEnv);
    try {
      const api = new HttpClient(web.baseUrl);
      const ready = await api.get('/health/ready/');
      expect([ready.status, ready.body?.details]).toEqual([
        200,
        { database_primary: expect.objectContaining({ status: 'up' }), redis: expect.objectContaining({ status: 'up' }) },
      ]);

      const user = newUser('heroku');
      expect((await api.post('/api/register/', user)).status).toBe(201);
      const login = await api.post('/api/token/', { username: user.username, password: user.password });
      expect(login.status).toBe(200);
      const me = await api.get('/api/me/', login.body.access);
      expect([me.status, me.body?.username]).toEqual([200, user.username]);

      // Every connection of the web pool and of the worker's outbox listener is TLS.
      const pool = await appConnections('auth-service');
      expect(pool.total).toBeGreaterThan(0);
      expect(pool.tls).toBe(pool.total);
      await waitFor(async () => (await appConnections('auth-outbox-listener')).total > 0, 15_000, 'the worker LISTENs');
      const listener = await appConnections('auth-outbox-listener');
      expect(listener.tls).toBe(listener.total);
      // The worker relayed the registration's e-mail from the outbox to BullMQ: its queue connection is TLS too.
      await waitFor(
        async () => {
          const [{ relayed }] = await postgres.admin<{ relayed: number }>('SELECT count(*)::int AS relayed FROM outbox WHERE dispatched_at IS NOT NULL', PgTlsServer.DATABASE);
          return relayed > 0;
        },
        15_000,
        'the worker relays the outbox to BullMQ over rediss://',
      );
      expect(worker.child.exitCode).toBeNull();
    } finally {
      await Promise.all([web.stop(), worker.stop()]);
    }
  });

  it('REDIS_TLS_REJECT_UNAUTHORIZED=false is what lets it use a self-signed Redis (the default checks the certificate)', async () => {
    const web = await startServiceProcess('main', { ...herokuEnv, REDIS_TLS_REJECT_UNAUTHORIZED: '' });
    try {
      const ready = await new HttpClient(web.baseUrl).get('/health/ready/');
      expect(ready.body?.details?.database_primary?.status).toBe('up');
      expect(ready.body?.details?.redis?.status).not.toBe('up');
      expect(web.output()).toContain('self-signed certificate');
    } finally {
      await web.stop();
    }
  });
});
