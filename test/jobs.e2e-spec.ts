import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { getQueueToken } from '@nestjs/bullmq';
import { Queue as BullQueue, type Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { DataSource } from 'typeorm';
import { INVALID_LINK, INVALID_RESET_LINK } from '../src/auth/account-email.service.js';
import { FLUSH_EXPIRED_JOB, MAIL_QUEUE, MAINTENANCE_QUEUE } from '../src/jobs/job-names.js';
import { OutboxRelay } from '../src/jobs/outbox-relay.service.js';
import { HttpClient, newUser } from './support/http-client.js';
import { RedisProcess } from './support/redis-process.js';
import { startServiceProcess } from './support/service-process.js';
import { linkParameters, SmtpSink } from './support/smtp-sink.js';
import { startApp, type TestApp } from './support/test-app.js';
import { sleep, waitFor } from './support/wait.js';

/**
 * Background jobs end to end: a real SMTP server on loopback (smtp-server), real BullMQ on Redis,
 * real PostgreSQL. Job counts are printed at the end for the issue note.
 */
const APP_URL = 'http://frontend.test';
const VERIFY_SUBJECT = /^Confirm your e-mail address$/;
const RESET_SUBJECT = /^Reset your password$/;
const WELCOME_SUBJECT = /^Welcome$/;
const jobReport: string[] = [];


afterAll(() => {
  console.log(`Job tests\n${jobReport.join('\n')}`);
});

describe('e-mail flows (worker running inside the web process)', () => {
  let smtp: SmtpSink;
  let testApp: TestApp;
  let api: HttpClient;
  let mailQueue: Queue;
  let db: DataSource;

  beforeAll(async () => {
    smtp = await SmtpSink.start();
    testApp = await startApp(
      { SMTP_URL: smtp.url, APP_URL, JOB_BACKOFF_MS: '200', OUTBOX_RELAY_INTERVAL_MS: '200', MAINTENANCE_INTERVAL_MS: '1000' },
      { worker: true },
    );
    api = new HttpClient(testApp.baseUrl);
    mailQueue = testApp.app.get<Queue>(getQueueToken(MAIL_QUEUE));
    db = testApp.app.get(DataSource);
  });

  afterAll(async () => {
    const counts = await mailQueue.getJobCounts('completed', 'failed', 'waiting', 'active', 'delayed');
    jobReport.push(`mail queue (in-process worker): ${JSON.stringify(counts)}, SMTP deliveries attempted ${smtp.attempts}, received ${smtp.messages.length}`);
    await testApp.close();
    await smtp.close();
  });

  async function register() {
    const user = newUser('mail');
    const response = await api.post('/api/register/', user);
    expect(response.status).toBe(201);
    return { ...user, email: user.email.toLowerCase(), id: response.body.id as number };
  }

  it('registration sends a verification link that confirms the address once, then a welcome e-mail', async () => {
    const user = await register();
    const mail = await smtp.waitFor(user.email, VERIFY_SUBJECT);
    const { uid, token, url } = linkParameters(mail);
    expect(url.startsWith(`${APP_URL}/verify-email?`)).toBe(true);
    expect(mail.html).toContain('Confirm my address');

    const pair = (await api.post('/api/token/', { username: user.username, password: user.password })).body;
    expect((await api.get('/api/me/', pair.access)).body.email_verified).toBe(false);

    const tampered = await api.post('/api/email/verify/', { uid, token: `${token.slice(0, -1)}${token.endsWith('0') ? '1' : '0'}` });
    expect(tampered.status).toBe(400);
    expect(tampered.body).toEqual({ token: [INVALID_LINK] });

    expect((await api.post('/api/email/verify/', { uid, token })).status).toBe(200);
    expect((await api.get('/api/me/', pair.access)).body.email_verified).toBe(true);
    const again = await api.post('/api/email/verify/', { uid, token });
    expect(again.status).toBe(400);
    expect(again.body).toEqual({ token: [INVALID_LINK] });
    await smtp.waitFor(user.email, WELCOME_SUBJECT);
  });

  it('password reset: 202 either way, a single-use link, the new password works and old sessions die', async () => {
    const user = await register();
    const oldSession = (await api.post('/api/token/', { username: user.username, password: user.password })).body;
    const unknownAddress = `nobody-${Date.now()}@example.com`;

    const forUnknown = await api.post('/api/password/reset/', { email: unknownAddress });
    // The request wrote its job anyway, with no user (the same work as for a known address).
    const [unknownRow] = await db.query(`SELECT max(id) AS id FROM outbox WHERE name = 'password-reset' AND payload->'userId' = 'null'::jsonb`);
    const forKnown = await api.post('/api/password/reset/', { email: user.email.toUpperCase() });
    expect(forUnknown.status).toBe(202);
    expect(forKnown.status).toBe(202);
    expect(forKnown.text).toBe(forUnknown.text);

    const mail = await smtp.waitFor(user.email, RESET_SUBJECT);
    const { uid, token, url } = linkParameters(mail);
    expect(url.startsWith(`${APP_URL}/reset-password?`)).toBe(true);

    const weak = await api.post('/api/password/reset/confirm/', { uid, token, new_password: 'password' });
    expect(weak.status).toBe(400);
    expect(weak.body).toEqual({ new_password: ['This password is too common.'] });

    const newPassword = 'Brand-new-secret-77';
    expect((await api.post('/api/password/reset/confirm/', { uid, token, new_password: newPassword })).status).toBe(200);
    expect((await api.post('/api/token/', { username: user.username, password: user.password })).status).toBe(401);
    expect((await api.post('/api/token/', { username: user.username, password: newPassword })).status).toBe(200);
    expect((await api.get('/api/me/', oldSession.access)).status).toBe(401);
    expect((await api.post('/api/token/refresh/', { refresh: oldSession.refresh })).status).toBe(401);

    const reused = await api.post('/api/password/reset/confirm/', { uid, token, new_password: 'Yet-another-one-88' });
    expect(reused.status).toBe(400);
    expect(reused.body).toEqual({ token: [INVALID_RESET_LINK] });

    // The unknown address got nothing: its job ran and sent no e-mail.
    await waitFor(async () => (await mailQueue.getJob(`outbox-${unknownRow.id}`))?.finishedOn !== undefined);
    expect((await mailQueue.getJob(`outbox-${unknownRow.id}`))!.returnvalue).toBe('skipped: no active account');
    expect(smtp.count(unknownAddress, /.*/)).toBe(0);
  });

  it('resending the verification link works and says nothing about unknown addresses', async () => {
    const user = await register();
    await smtp.waitFor(user.email, VERIFY_SUBJECT);
    const unknown = await api.post('/api/email/verify/resend/', { email: `ghost-${Date.now()}@example.com` });
    const known = await api.post('/api/email/verify/resend/', { email: user.email });
    expect([unknown.status, known.status]).toEqual([202, 202]);
    expect(unknown.text).toBe(known.text);
    await waitFor(async () => smtp.count(user.email, VERIFY_SUBJECT) === 2);
    const latest = smtp.messages.filter((mail) => mail.to.includes(user.email) && VERIFY_SUBJECT.test(mail.subject)).at(-1)!;
    const { uid, token } = linkParameters(latest);
    expect((await api.post('/api/email/verify/', { uid, token })).status).toBe(200);
  });

  it('a failing SMTP server: the job retries with backoff and then succeeds', async () => {
    const user = newUser('flaky');
    smtp.failNext(user.email, 2);
    const attemptsBefore = smtp.attempts;
    const registered = await api.post('/api/register/', user);
    expect(registered.status).toBe(201);
    await smtp.waitFor(user.email, VERIFY_SUBJECT);
    expect(smtp.attempts - attemptsBefore).toBeGreaterThanOrEqual(3);
    const job = (await mailQueue.getCompleted()).find((candidate) => candidate.name === 'verify-email' && candidate.data.userId === registered.body.id);
    expect(job).toBeDefined();
    expect(job!.attemptsStarted).toBe(3);
    expect(job!.attemptsMade).toBe(3);
    // Each refused attempt was logged by the processor (without the link or its token).
    const failures = testApp.logs.filter((line) => line.includes(`verify-email outbox-`) && line.includes('failed (attempt'));
    expect(failures.length).toBeGreaterThanOrEqual(2);
    expect(testApp.logs.join('\n')).not.toMatch(/token=|verify-email\?uid/);
    jobReport.push(`failing SMTP: verify-email job for user ${registered.body.id} succeeded on attempt ${job!.attemptsStarted} (2 refused with 451, retried with backoff)`);
  });

  it('an outbox row relayed twice (its commit lost after the add) is still one job', async () => {
    // A user id nobody has (the job is then "skipped"), unique to this test so its jobs can be counted.
    const userId = 2_000_000_000 + Math.floor(Math.random() * 100_000_000);
    const [{ id }] = await db.query(`INSERT INTO outbox (queue, name, payload) VALUES ('mail', 'welcome', $1::jsonb) RETURNING id`, [
      JSON.stringify({ userId }),
    ]);
    const relay = testApp.app.get(OutboxRelay);
    const dispatched = async () => (await db.query('SELECT dispatched_at FROM outbox WHERE id = $1', [id]))[0].dispatched_at !== null;
    // First relay (ours, or the background one that raced us to the row).
    await relay.relayBatch();
    await waitFor(dispatched);
    await waitFor(async () => (await mailQueue.getJob(`outbox-${id}`))?.finishedOn !== undefined);
    // The relay's UPDATE "was lost": the row is pending again and the relay hands it over a second time.
    await db.query('UPDATE outbox SET dispatched_at = NULL WHERE id = $1', [id]);
    await relay.relayBatch();
    await waitFor(dispatched);
    const jobs = await mailQueue.getJobs(['completed', 'failed', 'waiting', 'active', 'delayed', 'prioritized']);
    const ours = jobs.filter((job) => (job.data as { userId?: number }).userId === userId);
    expect(ours.map((job) => job.id)).toEqual([`outbox-${id}`]);
    expect(ours[0].returnvalue).toBe('skipped: no such user');
    expect(ours[0].attemptsStarted).toBe(1);
  });

  it('the maintenance job is scheduled and removes expired sessions', async () => {
    const maintenance = testApp.app.get<Queue>(getQueueToken(MAINTENANCE_QUEUE));
    const schedulers = await maintenance.getJobSchedulers();
    expect(schedulers.map((scheduler) => scheduler.key)).toContain(FLUSH_EXPIRED_JOB);
    const user = await register();
    await db.query(
      `INSERT INTO sessions (id, user_id, created_at, last_seen_at, refresh_jti, refresh_iat, expires_at)
       VALUES ('00000000-0000-4000-8000-0000000000aa', $1, now() - interval '3 days', now() - interval '3 days',
               'aaaabbbbccccddddaaaabbbbccccdddd', 0, now() - interval '2 days')`,
      [user.id],
    );
    await waitFor(async () => (await db.query(`SELECT 1 FROM sessions WHERE id = '00000000-0000-4000-8000-0000000000aa'`)).length === 0);
    const completed = await maintenance.getCompleted();
    expect(completed.length).toBeGreaterThanOrEqual(1);
    jobReport.push(`maintenance: ${completed.length} flush-expired runs completed during the suite`);
  });
});

describe('nothing lost: Redis is down when the e-mail is requested', () => {
  let smtp: SmtpSink;
  let redis: RedisProcess;
  let testApp: TestApp;
  let api: HttpClient;

  beforeAll(async () => {
    smtp = await SmtpSink.start();
    redis = await RedisProcess.start();
    testApp = await startApp(
      { SMTP_URL: smtp.url, APP_URL, REDIS_URL: redis.url, OUTBOX_RELAY_INTERVAL_MS: '200', JOB_BACKOFF_MS: '200' },
      { worker: true },
    );
    api = new HttpClient(testApp.baseUrl);
  });

  afterAll(async () => {
    await testApp.close();
    await redis.stop();
    await smtp.close();
  });

  it('answers 202 while Redis is stopped and sends the e-mail after Redis restarts', async () => {
    const user = newUser('outage');
    expect((await api.post('/api/register/', user)).status).toBe(201);
    await smtp.waitFor(user.email, VERIFY_SUBJECT);

    await redis.stop();
    const requestedWhileDown = await api.post('/api/password/reset/', { email: user.email });
    expect(requestedWhileDown.status).toBe(202);
    const second = newUser('outage');
    expect((await api.post('/api/register/', second)).status).toBe(201);
    await sleep(1000);
    expect(smtp.count(user.email, RESET_SUBJECT)).toBe(0);
    const [{ pending }] = await testApp.app.get(DataSource).query('SELECT count(*)::int AS pending FROM outbox WHERE dispatched_at IS NULL');
    expect(pending).toBeGreaterThanOrEqual(2);

    await redis.start();
    const reset = await smtp.waitFor(user.email, RESET_SUBJECT, 30_000);
    await smtp.waitFor(second.email, VERIFY_SUBJECT, 30_000);
    const { uid, token } = linkParameters(reset);
    expect((await api.post('/api/password/reset/confirm/', { uid, token, new_password: 'After-the-outage-42' })).status).toBe(200);
    jobReport.push(`Redis outage: ${pending} outbox rows held in PostgreSQL while Redis was down, both e-mails delivered after restart`);
  });
});

describe('the outbox listener loses its PostgreSQL connection', () => {
  let smtp: SmtpSink;
  let testApp: TestApp;
  let api: HttpClient;

  beforeAll(async () => {
    smtp = await SmtpSink.start();
    // No polling: only the LISTEN connection can bring the e-mail out quickly.
    testApp = await startApp({ SMTP_URL: smtp.url, APP_URL, OUTBOX_RELAY_INTERVAL_MS: '600000' }, { worker: true });
    api = new HttpClient(testApp.baseUrl);
  });

  afterAll(async () => {
    await testApp.close();
    await smtp.close();
  });

  it('reconnects and relays the next commit at once', async () => {
    const db = testApp.app.get(DataSource);
    const listening = async () =>
      (await db.query(`SELECT pid FROM pg_stat_activity WHERE application_name = 'auth-outbox-listener' AND datname = current_database()`)) as Array<{ pid: number }>;
    await waitFor(async () => (await listening()).length > 0);
    const [{ pid }] = await listening();
    await db.query('SELECT pg_terminate_backend($1)', [pid]);
    await waitFor(async () => (await listening()).some((row) => row.pid !== pid));
    const user = newUser('relisten');
    expect((await api.post('/api/register/', user)).status).toBe(201);
    await smtp.waitFor(user.email, VERIFY_SUBJECT, 10_000);
    jobReport.push('outbox listener: its connection was terminated, it reconnected and relayed the next registration e-mail on NOTIFY');
  });
});

describe('unverified users when ALLOW_UNVERIFIED_LOGIN=false', () => {
  let testApp: TestApp;
  let api: HttpClient;

  beforeAll(async () => {
    testApp = await startApp({ ALLOW_UNVERIFIED_LOGIN: 'false' });
    api = new HttpClient(testApp.baseUrl);
  });

  afterAll(async () => {
    await testApp.close();
  });

  it('refuses their login with the usual answer until the address is confirmed', async () => {
    const user = newUser('unverified');
    const { body } = await api.post('/api/register/', user);
    const refused = await api.post('/api/token/', { username: user.username, password: user.password });
    expect(refused.status).toBe(401);
    expect(refused.body).toEqual({ detail: 'No active account found with the given credentials', code: 'no_active_account' });
    await testApp.app.get(DataSource).query('UPDATE users SET email_verified_at = now() WHERE id = $1', [body.id]);
    expect((await api.post('/api/token/', { username: user.username, password: user.password })).status).toBe(200);
  });
});

describe('the worker process (dist/worker.js) on SIGTERM', () => {
  let smtp: SmtpSink;
  let testApp: TestApp;
  let api: HttpClient;

  beforeAll(async () => {
    smtp = await SmtpSink.start();
    // The API runs here without consumers; the separate worker process takes the jobs.
    testApp = await startApp({ SMTP_URL: smtp.url, APP_URL }, { worker: false });
    api = new HttpClient(testApp.baseUrl);
  });

  afterAll(async () => {
    await testApp.close();
    await smtp.close();
  });

  const cleanups: Array<() => Promise<unknown>> = [];

  it('stops taking jobs, lets the running one finish, and exits 0', async () => {
    const worker = await startServiceProcess('worker', { SMTP_URL: smtp.url, APP_URL, LOG_LEVEL: 'log' });
    try {
      await waitFor(async () => worker.output().includes('worker started'), 20_000);
      smtp.delayMs = 1500; // the SMTP answer takes 1.5 s: the job is still running when SIGTERM arrives
      const user = newUser('sigterm');
      expect((await api.post('/api/register/', user)).status).toBe(201);
      // The web process has no BullMQ of its own: observe the queue from here, on the worker's Redis
      // as REDIS_URL names it (database index, credentials and TLS included).
      const connection = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: null });
      cleanups.push(async () => connection.quit());
      const mailQueue = new BullQueue(MAIL_QUEUE, { connection, prefix: `${process.env.REDIS_KEY_PREFIX}${process.env.BULLMQ_PREFIX}` });
      cleanups.unshift(() => mailQueue.close());
      await waitFor(async () => (await mailQueue.getActiveCount()) === 1, 15_000);
      const code = await worker.stop(15_000);
      expect(code).toBe(0);
      expect(smtp.count(user.email, VERIFY_SUBJECT)).toBe(1);
      const completed = await mailQueue.getCompleted();
      expect(completed.some((job) => job.name === 'verify-email' && job.data.userId !== undefined && job.finishedOn)).toBe(true);
      expect(worker.output()).toContain('stopping job consumers');
      jobReport.push('worker SIGTERM: 1 job running at SIGTERM, finished and delivered, exit code 0');
    } finally {
      smtp.delayMs = 0;
      await worker.stop(5000);
      for (const cleanup of cleanups.splice(0)) await cleanup();
    }
  });
});
