import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { getQueueToken } from '@nestjs/bullmq';
import type { Job, Queue } from 'bullmq';
import { DataSource } from 'typeorm';
import { MAIL_QUEUE } from '../src/jobs/job-names.js';
import { RedisService } from '../src/redis/redis.service.js';
import { HttpClient, newUser } from './support/http-client.js';
import { SmtpSink } from './support/smtp-sink.js';
import { startApp, type TestApp } from './support/test-app.js';
import { waitFor } from './support/wait.js';

/**
 * Mail abuse: one address flooded with reset and verification requests (a web page can make its
 * visitors post them, form-encoded), and what the queue keeps about it. Real SMTP (a local
 * smtp-server), real BullMQ on Redis, real PostgreSQL. The figures are printed at the end.
 */
const APP_URL = 'http://frontend.test';
const RESET_SUBJECT = /^Reset your password$/;
const VERIFY_SUBJECT = /^Confirm your e-mail address$/;
/** RATE_LIMIT_MAIL_PER_ADDRESS's default, per kind of e-mail. */
const MAIL_BUDGET = 3;
const report: string[] = [];

afterAll(() => {
  console.log(`Mail abuse\n${report.join('\n')}`);
});

describe('reset and verification e-mails under a flood', () => {
  let smtp: SmtpSink;
  let testApp: TestApp;
  let api: HttpClient;
  let mailQueue: Queue;
  let db: DataSource;

  beforeAll(async () => {
    smtp = await SmtpSink.start();
    testApp = await startApp({ SMTP_URL: smtp.url, APP_URL, OUTBOX_RELAY_INTERVAL_MS: '200' }, { worker: true });
    api = new HttpClient(testApp.baseUrl);
    mailQueue = testApp.app.get<Queue>(getQueueToken(MAIL_QUEUE));
    db = testApp.app.get(DataSource);
  });

  afterAll(async () => {
    await testApp.close();
    await smtp.close();
  });

  async function register(prefix: string) {
    const user = newUser(prefix);
    const response = await api.post('/api/register/', user);
    expect(response.status).toBe(201);
    return { ...user, email: user.email.toLowerCase(), id: response.body.id as number };
  }

  /** Waits until every outbox row went to the queue and the queue has nothing left to do. */
  async function mailSettled() {
    await waitFor(async () => {
      const [{ pending }] = await db.query('SELECT count(*)::int AS pending FROM outbox WHERE dispatched_at IS NULL');
      const counts = await mailQueue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      return pending === 0 && Object.values(counts).every((count) => count === 0);
    }, 30_000, 'the outbox and the mail queue to drain');
  }

  it(`30 reset and 30 verification requests for one address: still 202 each, ${MAIL_BUDGET} e-mails of each`, async () => {
    const user = await register('flood');
    await smtp.waitFor(user.email, VERIFY_SUBJECT);
    await mailSettled();
    const resets = await Promise.all(Array.from({ length: 30 }, () => api.post('/api/password/reset/', { email: user.email.toUpperCase() })));
    const resends = await Promise.all(Array.from({ length: 30 }, () => api.post('/api/email/verify/resend/', { email: user.email })));
    expect(new Set(resets.map((response) => `${response.status} ${response.text}`)).size).toBe(1);
    expect(new Set(resends.map((response) => `${response.status} ${response.text}`)).size).toBe(1);
    expect([resets[0].status, resends[0].status]).toEqual([202, 202]);
    await mailSettled();
    const resetMails = smtp.count(user.email, RESET_SUBJECT);
    const verifyMails = smtp.count(user.email, VERIFY_SUBJECT) - 1; // the registration's own
    report.push(`30 reset requests for one address: ${resetMails} e-mails; 30 verification resends: ${verifyMails} e-mails (all answered 202 with one body)`);
    expect(resetMails).toBe(MAIL_BUDGET);
    expect(verifyMails).toBe(MAIL_BUDGET);
  });

  it('jobs hold ids, not addresses; BullMQ keys live under REDIS_KEY_PREFIX; completed jobs are not kept for days', async () => {
    const user = await register('payload');
    const unknown = `nobody-${Date.now()}@example.com`;
    expect((await api.post('/api/password/reset/', { email: user.email })).status).toBe(202);
    expect((await api.post('/api/password/reset/', { email: unknown })).status).toBe(202);
    await smtp.waitFor(user.email, RESET_SUBJECT);
    await mailSettled();
    const jobs: Job[] = await mailQueue.getJobs(['completed', 'failed']);
    expect(jobs.length).toBeGreaterThan(0);
    const leaking = jobs.filter((job) => JSON.stringify(job.data).includes('@'));
    expect(leaking.map((job) => job.name)).toEqual([]);
    // A reset for an unknown address did the same work: its job exists, with no user.
    expect(jobs.some((job) => job.name === 'password-reset' && job.data.userId === null)).toBe(true);
    for (const job of jobs.filter((candidate) => candidate.finishedOn && !candidate.failedReason)) {
      const keep = job.opts.removeOnComplete as { age?: number } | boolean | number | undefined;
      expect(typeof keep === 'object' && keep.age !== undefined && keep.age <= 86_400).toBe(true);
    }
    // Keys: the queue's under the deployment prefix (still hash-tagged), none bare, no address in any key name.
    const redis = testApp.app.get(RedisService).client;
    const scan = async (pattern: string) => {
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, found] = (await redis.call('SCAN', cursor, 'MATCH', pattern, 'COUNT', 1000)) as [string, string[]];
        keys.push(...found);
        cursor = next;
      } while (cursor !== '0');
      return keys;
    };
    const prefix = process.env.REDIS_KEY_PREFIX!;
    const bull = process.env.BULLMQ_PREFIX!;
    expect((await scan(`${prefix}${bull}:${MAIL_QUEUE}:*`)).length).toBeGreaterThan(0);
    expect(await scan(`${bull}:*`)).toEqual([]);
    const withAddress = (await scan(`${prefix}*`)).filter((key) => key.toLowerCase().includes(user.email) || key.includes(unknown));
    expect(withAddress).toEqual([]);
  });
});
