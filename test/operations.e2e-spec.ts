import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

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
    expect(missing.output).toContain('Invalid environment variable JWT_SIGNING_KEY: is required when NODE_ENV=production');
    const short = run('main.js', { NODE_ENV: 'production', JWT_SIGNING_KEY: 'too-short', PORT: '0' });
    expect(short.status).toBe(1);
    expect(short.output).toContain('JWT_SIGNING_KEY: must be at least 32 characters');
    expect(short.output).not.toContain('too-short'); // the secret itself is never printed
  });

  it('a bad setting stops the start with the variable named', () => {
    const bad = run('main.js', { DATABASE_URL: 'mysql://nope', PORT: '0' });
    expect(bad.status).toBe(1);
    expect(bad.output).toContain('Invalid environment variable DATABASE_URL: must start with postgres:// or postgresql://');
  });

  it('npm run tokens:flush removes expired rows and exits 0', () => {
    const flushed = run('cli/flush-expired-tokens.js');
    expect(flushed.status).toBe(0);
    expect(flushed.output).toMatch(/removed \d+ expired sessions and \d+ expired blacklist rows/);
  });
});
