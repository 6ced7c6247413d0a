import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { getDataSourceToken } from '@nestjs/typeorm';
import pg from 'pg';
import type { DataSource } from 'typeorm';
import { DjangoImporter, type ImportReport } from '../src/django-import/django-importer.js';
import { RevocationStore } from '../src/session/revocation-store.service.js';
import { UsersService } from '../src/users/users.service.js';
import { LastLoginRecorder } from '../src/users/last-login.recorder.js';
import { decodePayload } from './support/jwt-forge.js';
import { HttpClient } from './support/http-client.js';
import { startApp, type TestApp } from './support/test-app.js';

/**
 * `npm run import:django` on a database made by a real Django (Debian's python3-django and
 * python3-djangorestframework-simplejwt, see test/support/django-fixtures.py): users of every hasher,
 * inactive and unusable-password users, outstanding and blacklisted simplejwt tokens signed with a
 * known SECRET_KEY. The import goes into a fresh database of its own (not the run's shared one).
 */
const run = promisify(execFile);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const PYTHON = process.env.DJANGO_PYTHON ?? '/usr/bin/python3';
const SECRET_KEY = 'django-insecure-e2e-secret-key-for-the-import-0123456789';
const suffix = `${Date.now().toString(36)}${process.pid.toString(36)}`;
const DJANGO_DB = `django_src_${suffix}`;
const TARGET_DB = `django_dst_${suffix}`;
/** Another database on the run's server (DATABASE_URL is the run's own, see test/setup/global-setup.js). */
function databaseUrlFor(name: string): string {
  const url = new URL(process.env.DATABASE_URL!);
  url.pathname = `/${name}`;
  return url.toString();
}
const djangoUrl = databaseUrlFor(DJANGO_DB);
const targetUrl = databaseUrlFor(TARGET_DB);
/**
 * Its own Redis key prefix too (under the run's, so the run's teardown deletes it): the imported ids
 * are the ids other suites' users have in the run's database, and a cached /api/me/ of one must never
 * meet the other.
 */
const REDIS_KEY_PREFIX = `${process.env.REDIS_KEY_PREFIX}django-import:`;
const APP_ENV = { DATABASE_URL: targetUrl, JWT_SIGNING_KEY: SECRET_KEY, REDIS_KEY_PREFIX };

interface Fixtures {
  accounts: Array<{ id: number; username: string; password: string; hasher: string }>;
  live: DjangoTokens;
  live_string_user_id: DjangoTokens;
  blacklisted: DjangoTokens;
  inactive: DjangoTokens;
}
interface DjangoTokens {
  refresh: string;
  access: string;
  jti: string;
}

async function django<T = { id: number }>(command: string, argument?: unknown): Promise<T> {
  const args = [join(ROOT, 'test/support/django-fixtures.py'), djangoUrl, SECRET_KEY, command];
  if (argument !== undefined) args.push(JSON.stringify(argument));
  const { stdout } = await run(PYTHON, args, { timeout: 60_000 });
  return JSON.parse(stdout) as T;
}

/** The CLI as an operator runs it (dist/, built by `npm test` before the e2e suites). */
async function importCli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, ...APP_ENV, NODE_OPTIONS: '' };
  try {
    const { stdout, stderr } = await run('node', ['dist/cli/import-django.js', '--from', djangoUrl, ...args], { cwd: ROOT, env, timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('npm run import:django (fixtures made by Django)', () => {
  let admin: pg.Client;
  let target: pg.Client;
  let djangoDb: pg.Client;
  let fixtures: Fixtures;
  let testApp: TestApp;
  let api: HttpClient;
  const account = (hasher: string) => fixtures.accounts.find((entry) => entry.hasher === hasher)!;
  const storedHash = async (id: number) => (await target.query('SELECT password FROM users WHERE id = $1', [id])).rows[0]?.password as string;
  /** Everything about the accounts that an import could change, to compare runs. */
  const accountsTable = async () =>
    (await target.query('SELECT id, username, email, password, is_active, date_joined, last_login, auth_version FROM users ORDER BY id')).rows;
  const login = (username: string, password: string) => api.post('/api/token/', { username, password });

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: databaseUrlFor('postgres') });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${DJANGO_DB}`);
    await admin.query(`CREATE DATABASE ${TARGET_DB}`);
    fixtures = await django<Fixtures>('create');
    await run('node', ['dist/cli/migrate.js'], { cwd: ROOT, env: { ...process.env, DATABASE_URL: targetUrl, NODE_OPTIONS: '' } });
    target = new pg.Client({ connectionString: targetUrl });
    await target.connect();
    djangoDb = new pg.Client({ connectionString: djangoUrl });
    await djangoDb.connect();
    testApp = await startApp(APP_ENV);
    api = new HttpClient(testApp.baseUrl);
  }, 120_000);

  afterAll(async () => {
    await testApp?.close();
    await target?.end();
    await djangoDb?.end();
    await admin.query(`DROP DATABASE IF EXISTS ${DJANGO_DB} WITH (FORCE)`);
    await admin.query(`DROP DATABASE IF EXISTS ${TARGET_DB} WITH (FORCE)`);
    await admin.end();
  });

  it('--dry-run prints the counts and writes nothing', async () => {
    const result = await importCli('--dry-run');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('DRY RUN (nothing written)');
    expect(result.stdout).toMatch(/new accounts: 7\b/);
    expect(result.stdout).toMatch(/blacklisted refresh tokens: new 1\b/);
    const counts = await target.query(
      'SELECT (SELECT count(*) FROM users)::int AS users, (SELECT count(*) FROM login_identifiers)::int AS identifiers, (SELECT count(*) FROM blacklisted_tokens)::int AS blacklisted, (SELECT count(*) FROM django_import_users)::int AS state',
    );
    expect(counts.rows[0]).toEqual({ users: 0, identifiers: 0, blacklisted: 0, state: 0 });
  });

  it('a conflict (two Django e-mails differing only in case) stops it with a report, writing nothing', async () => {
    const twin = await django('add-user', { username: 'dj_twin', email: 'dj_PBKDF2_SHA256@example.COM', password: 'Twin password 123!' });
    try {
      const result = await importCli();
      expect(result.code).toBe(2);
      expect(result.stdout).toContain('STOPPED (nothing written)');
      expect(result.stdout).toContain(`[duplicate-email] Django accounts ${account('pbkdf2_sha256').id}, ${twin.id}`);
      // No secret in the report: no hash, no address.
      expect(result.stdout).not.toMatch(/pbkdf2_sha256\$|@example/i);
      const counts = await target.query('SELECT (SELECT count(*) FROM users)::int AS users, (SELECT count(*) FROM blacklisted_tokens)::int AS blacklisted');
      expect(counts.rows[0]).toEqual({ users: 0, blacklisted: 0 });
      const sequence = await target.query(`SELECT pg_sequence_last_value(pg_get_serial_sequence('users', 'id')::regclass) AS last`);
      expect(sequence.rows[0].last).toBeNull();
    } finally {
      await djangoDb.query('DELETE FROM auth_user WHERE id = $1', [twin.id]);
    }
  });

  it('imports every account with its id, hash as stored, flags and dates', async () => {
    const result = await importCli();
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/new accounts: 7\b/);
    const source = (await djangoDb.query('SELECT id, username, lower(email) AS email, password, is_active, date_joined, last_login FROM auth_user ORDER BY id')).rows;
    const copied = (await target.query('SELECT id, username, email, password, is_active, date_joined, last_login FROM users ORDER BY id')).rows;
    expect(copied).toEqual(source);
    // New registrations get ids after Django's.
    const registered = await api.post('/api/register/', { username: 'after_import', email: 'after@import.test', password: 'Registered after import 1!' });
    expect(registered.status).toBe(201);
    expect(registered.body.id).toBeGreaterThan(Math.max(...source.map((row) => row.id as number)));
  });

  it('each Django hasher logs in with the original password and is upgraded to argon2id', async () => {
    for (const hasher of ['pbkdf2_sha256', 'pbkdf2_sha1', 'argon2', 'bcrypt_sha256', 'bcrypt']) {
      const { id, username, password } = account(hasher);
      expect((await storedHash(id)).startsWith(`${hasher}$`)).toBe(true);
      expect((await login(username, `${password}x`)).status).toBe(401);
      const response = await login(username, password);
      expect({ hasher, status: response.status }).toEqual({ hasher, status: 200 });
      expect(decodePayload(response.body.access).user_id).toBe(id);
      expect((await storedHash(id)).startsWith('$argon2id$')).toBe(true);
      expect((await login(username, password)).status).toBe(200); // and again, on the argon2id hash
    }
  });

  it('an inactive account is refused; an unusable password never logs in', async () => {
    const inactive = account('inactive');
    expect((await login(inactive.username, inactive.password)).status).toBe(401);
    const unusable = account('unusable');
    const stored = await storedHash(unusable.id);
    expect(stored.startsWith('!')).toBe(true);
    for (const attempt of [stored, stored.slice(1), 'any password at all']) {
      expect((await login(unusable.username, attempt)).status).toBe(401);
    }
  });

  it('tokens Django issued are honoured: access (user_id as integer or string), refresh opens a session here', async () => {
    const me = await api.get('/api/me/', fixtures.live.access);
    expect(me.status).toBe(200);
    expect(me.body.id).toBe(account('pbkdf2_sha256').id);
    expect(typeof decodePayload(fixtures.live_string_user_id.access).user_id).toBe('string');
    const meToo = await api.get('/api/me/', fixtures.live_string_user_id.access);
    expect(meToo.status).toBe(200);
    expect(meToo.body.id).toBe(account('bcrypt').id);

    const refreshed = await api.post('/api/token/refresh/', { refresh: fixtures.live.refresh });
    expect(refreshed.status).toBe(200);
    const sid = decodePayload(refreshed.body.refresh).sid as string;
    expect(sid).toMatch(/^[0-9a-f-]{36}$/);
    const sessions = await api.get('/api/sessions/', refreshed.body.access);
    expect(sessions.status).toBe(200);
    expect(JSON.stringify(sessions.body)).toContain(sid);
    // Rotation consumed the Django refresh token.
    expect((await api.post('/api/token/refresh/', { refresh: fixtures.live.refresh })).status).toBe(401);
    const stringRefresh = await api.post('/api/token/refresh/', { refresh: fixtures.live_string_user_id.refresh });
    expect(stringRefresh.status).toBe(200);
    expect(decodePayload(stringRefresh.body.access).user_id).toBe(account('bcrypt').id);
  });

  it('a refresh token Django blacklisted stays revoked; an inactive account\'s Django tokens are refused', async () => {
    const refused = await api.post('/api/token/refresh/', { refresh: fixtures.blacklisted.refresh });
    expect(refused.status).toBe(401);
    expect(refused.body.detail).toBe('Token is blacklisted');
    expect((await api.post('/api/token/verify/', { token: fixtures.blacklisted.refresh })).status).toBe(401);
    expect((await api.get('/api/me/', fixtures.inactive.access)).status).toBe(401);
    expect((await api.post('/api/token/refresh/', { refresh: fixtures.inactive.refresh })).status).toBe(401);
  });

  it('a second run brings a newcomer, new blacklist entries and changed passwords, and changes nothing else', async () => {
    await testApp.app.get(LastLoginRecorder).flush(); // the earlier logins' last_login, written in the background
    const before = await accountsTable();
    const newcomer = await django('add-user', { username: 'dj_newcomer', email: 'newcomer@example.com', password: 'Newcomer password 1!' });
    const changer = account('pbkdf2_sha1'); // upgraded to argon2id here: Django's change must not overwrite it
    await django('set-password', { id: changer.id, password: 'Changed in Django 2!' });
    const revokedLater = await django<DjangoTokens>('issue-tokens', { id: account('bcrypt_sha256').id, blacklist: true });

    const result = await importCli();
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/new accounts: 1\b/);
    expect(result.stdout).toMatch(/passwords 0, active flags 0, usernames 0, e-mails 0/);
    expect(result.stdout).toMatch(/blacklisted refresh tokens: new 1, already here 1\b/);
    expect(result.stdout).toContain(`account ${changer.id}: password changed in Django, but the hash here changed since the last import`);

    const after = await accountsTable();
    expect(after.filter((row) => row.id !== newcomer.id)).toEqual(before);
    expect(after.find((row) => row.id === newcomer.id)?.password).toMatch(/^pbkdf2_sha256\$/);

    // A third run, nothing changed in Django: nothing to do, the same skip said again.
    const third = await importCli();
    expect(third.stdout).toMatch(/new accounts: 0\b/);
    expect(third.stdout).toMatch(/unchanged: 7\b/);
    expect(third.stdout).toMatch(/skipped: 1\b/);
    expect(await accountsTable()).toEqual(after);

    expect((await login('dj_newcomer', 'Newcomer password 1!')).status).toBe(200);
    expect((await login(changer.username, changer.password)).status).toBe(200);
    expect((await api.post('/api/token/refresh/', { refresh: revokedLater.refresh })).body.detail).toBe('Token is blacklisted');
  });

  it('brings a password changed and an account deactivated in Django (not changed here); the deactivation ends the tokens', async () => {
    const moved = await django('add-user', { username: 'dj_mover', email: 'mover@example.com', password: 'Mover password 1!' });
    const leaving = account('bcrypt_sha256');
    expect((await importCli()).code).toBe(0);
    const session = await login(leaving.username, leaving.password);
    expect(session.status).toBe(200);
    expect((await api.get('/api/me/', session.body.access)).status).toBe(200);

    await django('set-password', { id: moved.id, password: 'Mover changed it 2!' });
    await django('set-active', { id: leaving.id, active: false });
    const result = await importCli();
    expect(result.stdout).toMatch(/passwords 1, active flags 1\b/);
    expect((await login('dj_mover', 'Mover changed it 2!')).status).toBe(200);
    expect((await login('dj_mover', 'Mover password 1!')).status).toBe(401);
    expect((await api.get('/api/me/', session.body.access)).status).toBe(401);
    expect((await login(leaving.username, leaving.password)).status).toBe(401);
  });

  it('a login upgrading a hash while the import runs is not overwritten (compare-and-set)', async () => {
    const racer = await django('add-user', { username: 'dj_racer', email: 'racer@example.com', password: 'Racer password 1!' });
    expect((await importCli()).code).toBe(0);
    const imported = await storedHash(racer.id);
    expect(imported.startsWith('pbkdf2_sha256$')).toBe(true);
    await django('set-password', { id: racer.id, password: 'Racer changed in Django 2!' });

    // The import reads the state and plans "the hash here is still the imported one: bring Django's
    // new one"; a login then upgrades that hash to argon2id before the import writes.
    const importer = new DjangoImporter(
      testApp.app.get<DataSource>(getDataSourceToken()),
      testApp.app.get(UsersService),
      testApp.app.get(RevocationStore),
    );
    let loginStatus = 0;
    const report: ImportReport = await importer.run(djangoUrl, {
      dryRun: false,
      placeholderEmails: false,
      beforeWrite: async () => {
        loginStatus = (await login('dj_racer', 'Racer password 1!')).status;
      },
    });
    expect(loginStatus).toBe(200);
    const upgraded = await storedHash(racer.id);
    expect(upgraded.startsWith('$argon2id$')).toBe(true);
    expect(report.updated.password).toBe(0);
    expect(report.skipped).toContainEqual({ id: racer.id, reason: 'password changed here while the import ran: kept the one here' });
    expect((await login('dj_racer', 'Racer password 1!')).status).toBe(200);
    // The bookkeeping still holds the old Django hash: the next run reports the skip again, never overwrites.
    const next = await importCli();
    expect(next.stdout).toContain(`account ${racer.id}: password changed in Django, but the hash here changed`);
    expect(await storedHash(racer.id)).toBe(upgraded);
  });

  it('LEGACY_TOKENS=false refuses tokens Django issued; the service\'s own still work', async () => {
    const fresh = await django<DjangoTokens>('issue-tokens', { id: account('argon2').id });
    const own = await login(account('argon2').username, account('argon2').password);
    expect(own.status).toBe(200);
    const honoured = await api.get('/api/me/', fresh.access); // the default app honours it
    expect(honoured.status).toBe(200);
    expect(honoured.body.id).toBe(account('argon2').id);
    // The strategy is registered with passport by name, process-wide: the default app is closed first.
    await testApp.close();
    const strict = await startApp({ ...APP_ENV, LEGACY_TOKENS: 'false' });
    testApp = strict; // closed by afterAll
    const strictApi = new HttpClient(strict.baseUrl);
    expect((await strictApi.get('/api/me/', fresh.access)).status).toBe(401);
    expect((await strictApi.post('/api/token/refresh/', { refresh: fresh.refresh })).status).toBe(401);
    expect((await strictApi.post('/api/token/verify/', { token: fresh.access })).status).toBe(401);
    expect((await strictApi.get('/api/me/', own.body.access)).status).toBe(200);
  });
});
