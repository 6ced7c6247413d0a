import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startServiceProcess } from './support/service-process.js';

/**
 * What an operator runs (Procfile release and web lines, the cleanup command), as real processes of
 * the compiled code (`npm test` builds dist/ first), against the run's database.
 */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

function run(script: string, env: Record<string, string | undefined> = {}) {
  const result = spawnSync(process.execPath, [join(ROOT, 'dist', script)], {
    cwd: ROOT,
    env: { ...process.env, NODE_OPTIONS: '', LOG_LEVEL: 'warn', ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('operations', () => {
  it('the release phase (npm run migration:run) is a no-op when nothing is pending', () => {
    const first = run('cli/migrate.js');
    const second = run('cli/migrate.js');
    expect([first.status, second.status]).toEqual([0, 0]);
    expect(second.output).toContain('no pending migrations');
  });

  it('a production start refuses a missing or short signing key and names the variable', () => {
    const missing = run('main.js', { NODE_ENV: 'production', JWT_SIGNING_KEY: '', PORT: '0' });
    expect(missing.status).toBe(1);
    expect(missing.output).toContain('Invalid environment variable JWT_SIGNING_KEY: is required in production');
    const short = run('main.js', { NODE_ENV: 'production', JWT_SIGNING_KEY: 'too-short', PORT: '0' });
    expect(short.status).toBe(1);
    expect(short.output).toContain('JWT_SIGNING_KEY: must be at least 32 characters');
    expect(short.output).not.toContain('too-short'); // the secret itself is never printed
  });

  it('production checks apply unless NODE_ENV is exactly development or test (unset and "Production" included)', () => {
    for (const nodeEnv of ['Production', '']) {
      const started = run('main.js', { NODE_ENV: nodeEnv, JWT_SIGNING_KEY: '', PORT: '0' });
      expect([nodeEnv, started.status]).toEqual([nodeEnv, 1]);
      expect(started.output).toContain('Invalid environment variable JWT_SIGNING_KEY');
    }
  });

  it('production refuses the built-in development signing key', () => {
    const developmentKey = 'dev-only-signing-key-change-me-in-production-0123456789';
    const started = run('main.js', { NODE_ENV: 'production', JWT_SIGNING_KEY: developmentKey, PORT: '0' });
    expect(started.status).toBe(1);
    expect(started.output).toContain('Invalid environment variable JWT_SIGNING_KEY');
    expect(started.output).not.toContain(developmentKey);
  });

  it('in production the OpenAPI document and Swagger UI are off unless asked for', async () => {
    // NODE_ENV unset is production too; SWAGGER_* unset means their default.
    for (const nodeEnv of ['production', '']) {
      const service = await startServiceProcess('main', {
        NODE_ENV: nodeEnv,
        JWT_SIGNING_KEY: 'a-production-signing-key-of-enough-length-0123456789',
        SWAGGER_ENABLED: '',
        SWAGGER_UI_ENABLED: '',
      });
      try {
        const schema = await fetch(`${service.baseUrl}/api/schema/`);
        const ui = await fetch(`${service.baseUrl}/api/docs`);
        expect([nodeEnv, schema.status, ui.status]).toEqual([nodeEnv, 404, 404]);
      } finally {
        await service.stop();
      }
    }
  });

  it('a bad setting stops the start with the variable named', () => {
    const bad = run('main.js', { DATABASE_URL: 'mysql://nope', PORT: '0' });
    expect(bad.status).toBe(1);
    expect(bad.output).toContain('Invalid environment variable DATABASE_URL: must start with postgres:// or postgresql://');
  });

  it('npm run tokens:flush removes expired rows, keeps live ones, and exits 0', async () => {
    const db = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await db.connect();
    try {
      const tag = randomUUID().replaceAll('-', '').slice(0, 12);
      const [{ id: userId }] = (
        await db.query(`INSERT INTO users (username, email, password) VALUES ($1, $2, 'unusable') RETURNING id`, [`flush${tag}`, `flush${tag}@example.com`])
      ).rows;
      // Sessions: long expired (gone), expired a moment ago (kept: its last access token may still
      // be in use for ACCESS_TOKEN_LIFETIME), live (kept). Blacklist rows: expired (gone), live (kept).
      const sessions = { expired: randomUUID(), justExpired: randomUUID(), live: randomUUID() };
      for (const [id, expiresAt] of [
        [sessions.expired, `now() - interval '2 days'`],
        [sessions.justExpired, `now() - interval '10 seconds'`],
        [sessions.live, `now() + interval '1 day'`],
      ]) {
        await db.query(
          `INSERT INTO sessions (id, user_id, created_at, last_seen_at, refresh_jti, refresh_iat, expires_at)
           VALUES ($1, $2, now() - interval '3 days', now() - interval '3 days', $3, 0, ${expiresAt})`,
          [id, userId, randomUUID().replaceAll('-', '')],
        );
      }
      const jtis = { expired: randomUUID().replaceAll('-', ''), live: randomUUID().replaceAll('-', '') };
      await db.query(
        `INSERT INTO blacklisted_tokens (jti, user_id, expires_at) VALUES ($1, $3, now() - interval '1 hour'), ($2, $3, now() + interval '1 day')`,
        [jtis.expired, jtis.live, userId],
      );

      const flushed = run('cli/flush-expired-tokens.js');
      expect(flushed.status).toBe(0);
      const counts = /removed (\d+) expired sessions and (\d+) expired blacklist rows/.exec(flushed.output);
      expect(counts).not.toBeNull();
      // Other suites share the database: at least ours were counted.
      expect(Number(counts![1])).toBeGreaterThanOrEqual(1);
      expect(Number(counts![2])).toBeGreaterThanOrEqual(1);
      const remainingSessions = (await db.query('SELECT id FROM sessions WHERE user_id = $1 ORDER BY id', [userId])).rows.map((row) => row.id as string);
      expect(remainingSessions).toEqual([sessions.justExpired, sessions.live].sort());
      const remainingJtis = (await db.query('SELECT jti FROM blacklisted_tokens WHERE user_id = $1', [userId])).rows.map((row) => row.jti as string);
      expect(remainingJtis).toEqual([jtis.live]);
    } finally {
      await db.end();
    }
  });
});
