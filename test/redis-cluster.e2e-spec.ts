import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { getQueueToken } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import type { Cluster } from 'ioredis';
import { MAIL_QUEUE, MAINTENANCE_QUEUE } from '../src/jobs/job-names.js';
import { RedisService } from '../src/redis/redis.service.js';
import { decodePayload } from './support/jwt-forge.js';
import { HttpClient, newUser, type ApiResponse } from './support/http-client.js';
import { RedisCluster } from './support/redis-cluster.js';
import { SmtpSink } from './support/smtp-sink.js';
import { startApp, type TestApp } from './support/test-app.js';
import { waitFor } from './support/wait.js';

/**
 * The whole service on a real Redis Cluster (3 masters of local redis-server processes, started and
 * removed by this suite; the machine's Redis is not used). Keys that one command or one round trip
 * touches together must share a hash tag, or Redis answers CROSSSLOT. Several of the service's Redis
 * paths turn a Redis error into a silent fallback (cache miss, PostgreSQL check), so besides the
 * status codes this suite reads the cluster itself: the keys the app wrote, their slots, and the
 * nodes' own command and error statistics. The BullMQ consumers run in the app too (outbox relay,
 * mail worker, maintenance scheduler), so BullMQ's own keys and scripts are on the cluster.
 *
 * Each case makes its own users and traffic, so any one of them can run alone or in any order
 * (`-t`, `--randomize`); after each, none of its requests may have been a 5xx nor the app have
 * logged an error.
 */

interface Tokens {
  access: string;
  refresh: string;
}

describe('Redis Cluster: every key layout works across slots and nodes', () => {
  let cluster: RedisCluster;
  let inspector: Cluster;
  let testApp: TestApp;
  let api: HttpClient;
  let smtp: SmtpSink;
  const prefix = () => process.env.REDIS_KEY_PREFIX!;
  /** Every response of the current case, to check that none was a 5xx. */
  const responses: Array<{ method: string; path: string; status: number }> = [];
  let logsBefore = 0;

  beforeAll(async () => {
    cluster = await RedisCluster.start(3);
    inspector = cluster.client();
    smtp = await SmtpSink.start();
    testApp = await startApp(
      { REDIS_CLUSTER: 'true', REDIS_URL: cluster.redisUrl, SMTP_URL: smtp.url, APP_URL: 'http://frontend.test', OUTBOX_RELAY_INTERVAL_MS: '200' },
      { worker: true },
    );
    api = new HttpClient(testApp.baseUrl);
    const original = api.request.bind(api);
    api.request = async <T = any>(...args: Parameters<HttpClient['request']>): Promise<ApiResponse<T>> => {
      const response = await original<T>(...args);
      responses.push({ method: args[0], path: args[1], status: response.status });
      return response;
    };
    // The cluster client discovers the slot map before it takes commands (the service's client
    // does not queue while offline): start once it is ready, as a deployment would after boot.
    const redis = testApp.app.get(RedisService);
    await waitFor(async () => redis.isReady, 20_000);
  }, 90_000);

  afterAll(async () => {
    await testApp?.close();
    await smtp?.close();
    inspector?.disconnect();
    await cluster?.stop();
  }, 60_000);

  beforeEach(() => {
    responses.length = 0;
    logsBefore = testApp.logs.length;
  });

  afterEach(() => {
    expect(responses.filter((response) => response.status >= 500)).toEqual([]);
    const problems = testApp.logs.slice(logsBefore).filter((line) => /^(error|fatal) /.test(line) || /CROSSSLOT|redis \(|Redis did not take/i.test(line));
    expect(problems).toEqual([]);
  });

  async function login(username: string, password: string): Promise<Tokens> {
    const response = await api.post('/api/token/', { username, password });
    expect(response.status).toBe(200);
    return response.body as Tokens;
  }

  /** A new user, logged in twice (by username, by e-mail), each session having called GET /api/me/. */
  async function userWithTwoSessions(label: string) {
    const user = newUser(label);
    const registered = await api.post('/api/register/', user);
    expect(registered.status).toBe(201);
    const byUsername = await login(user.username, user.password);
    const byEmail = await login(user.email, user.password);
    for (const tokens of [byUsername, byEmail]) expect((await api.get('/api/me/', tokens.access)).status).toBe(200);
    return { ...user, id: registered.body.id as number, email: registered.body.email as string, byUsername, byEmail };
  }

  /** Every key of this run on the cluster (SCAN on each master), under REDIS_KEY_PREFIX or `keyPrefix`. */
  async function serviceKeys(keyPrefix = prefix()): Promise<string[]> {
    const keys = new Set<string>();
    for (const node of inspector.nodes('master')) {
      let cursor = '0';
      do {
        const [next, found] = await node.scan(cursor, 'MATCH', `${keyPrefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 1000);
        for (const key of found) keys.add(key);
        cursor = next;
      } while (cursor !== '0');
    }
    return [...keys];
  }

  const keySlot = async (key: string) => Number(await inspector.call('CLUSTER', 'KEYSLOT', key));

  /** Which master (by port) serves each slot, from CLUSTER SLOTS. */
  async function slotOwners(): Promise<(slot: number) => number> {
    const ranges = (await inspector.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number, ...unknown[]]]>;
    return (slot) => {
      const range = ranges.find(([from, to]) => slot >= from && slot <= to);
      if (!range) throw new Error(`slot ${slot} has no owner`);
      return Number(range[2][1]);
    };
  }

  /** Sums a field of INFO commandstats / errorstats lines over every master. */
  async function clusterStat(section: 'commandstats' | 'errorstats', line: string, field: string): Promise<number> {
    const infos = await cluster.onEachNode((node) => node.info(section));
    let total = 0;
    for (const info of infos.values()) {
      const match = new RegExp(`^${line}:(.*)$`, 'm').exec(info);
      const value = match?.[1].split(',').find((pair) => pair.startsWith(`${field}=`));
      if (value) total += Number(value.split('=')[1]);
    }
    return total;
  }

  it('the cluster is up: 3 masters, each serving part of the 16384 slots', async () => {
    const infos = await cluster.onEachNode((node) => node.call('CLUSTER', 'INFO') as Promise<string>);
    expect(infos.size).toBe(3);
    for (const info of infos.values()) {
      expect(info).toMatch(/cluster_state:ok/);
      expect(info).toMatch(/cluster_size:3\b/);
    }
    const owner = await slotOwners();
    expect(new Set([0, 8000, 16383].map(owner))).toEqual(new Set(cluster.ports));
    expect(inspector.nodes('master')).toHaveLength(3);
    expect((await api.get('/health/ready/')).body.details.redis.status).toBe('up');
  });

  it('register → login by username and by e-mail → me (cached) → refresh → logout → the old access token is dead', async () => {
    const user = newUser('cluster');
    const registered = await api.post('/api/register/', user);
    expect(registered.status).toBe(201);
    const id = registered.body.id as number;

    const byUsername = await login(user.username, user.password);
    const byEmail = await login(user.email, user.password);
    expect(decodePayload(byUsername.access).user_id).toBe(id);
    expect(decodePayload(byEmail.access).user_id).toBe(id);
    const usernameSession = decodePayload(byUsername.access).sid;
    expect(usernameSession).not.toBe(decodePayload(byEmail.access).sid);

    // GET /api/me/ twice: the first fills the per-user response cache on the cluster, the second is
    // served from it. To tell a hit from a recomputed answer, the cached entry is marked in Redis
    // between the two requests (and put back afterwards).
    const responseKey = `${prefix()}resp:{${id}}:/api/me`;
    const first = await api.get('/api/me/', byUsername.access);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ id, username: user.username });
    await waitFor(async () => (await inspector.exists(responseKey)) === 1);
    const cached = (await inspector.get(responseKey))!;
    expect(cached).toContain(user.username);
    const marker = `cached${user.username}`;
    await inspector.set(responseKey, cached.replaceAll(user.username, marker), 'KEEPTTL');
    const second = await api.get('/api/me/', byUsername.access);
    expect(second.status).toBe(200);
    expect(second.body).toEqual(JSON.parse(JSON.stringify(first.body).replaceAll(user.username, marker)));
    await inspector.set(responseKey, cached, 'KEEPTTL');
    expect((await api.get('/api/me/', byUsername.access)).body).toEqual(first.body);

    // Rotation: a new pair; the new access token works, and so does the old one (same live session).
    const refreshed = await api.post('/api/token/refresh/', { refresh: byUsername.refresh });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh).not.toBe(byUsername.refresh);
    expect(decodePayload(refreshed.body.access).sid).toBe(usernameSession);
    expect((await api.get('/api/me/', refreshed.body.access)).status).toBe(200);
    expect((await api.post('/api/token/verify/', { token: refreshed.body.access })).status).toBe(200);

    // Logout ends the session: both of its access tokens and its refresh token stop at once.
    const logout = await api.post('/api/logout/', { refresh: refreshed.body.refresh }, refreshed.body.access);
    expect(logout.status).toBe(205);
    expect((await api.get('/api/me/', refreshed.body.access)).status).toBe(401);
    expect((await api.get('/api/me/', byUsername.access)).status).toBe(401);
    expect((await api.post('/api/token/refresh/', { refresh: refreshed.body.refresh })).status).toBe(401);
    // The other session (logged in by e-mail) is untouched.
    expect((await api.get('/api/me/', byEmail.access)).status).toBe(200);
  });

  it('log in twice, POST /api/logout/others/: only the caller survives', async () => {
    const user = newUser('clusterothers');
    expect((await api.post('/api/register/', user)).status).toBe(201);
    const caller = await login(user.username, user.password);
    const other = await login(user.email, user.password);
    for (const tokens of [caller, other]) expect((await api.get('/api/me/', tokens.access)).status).toBe(200);

    const response = await api.post('/api/logout/others/', {}, caller.access);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ revoked: 1 });
    expect((await api.get('/api/me/', caller.access)).status).toBe(200);
    expect((await api.get('/api/me/', other.access)).status).toBe(401);
    expect((await api.post('/api/token/refresh/', { refresh: other.refresh })).status).toBe(401);
    expect((await api.post('/api/token/refresh/', { refresh: caller.refresh })).status).toBe(200);
  });

  it('rate limiting answers on the cluster (its counters live there)', async () => {
    const user = newUser('clusterlimits');
    expect((await api.post('/api/register/', user)).status).toBe(201);
    const tokens = await login(user.username, user.password);
    expect((await api.post('/api/token/refresh/', { refresh: tokens.refresh })).status).toBe(200);
    const bad = await api.post('/api/token/', { username: `nobody-${Date.now()}`, password: 'wrong-password-123' });
    expect(bad.status).toBe(401);
    expect(bad.body).toMatchObject({ detail: 'No active account found with the given credentials' });
    const keys = await serviceKeys();
    for (const group of ['login', 'register', 'refresh']) {
      expect(keys.filter((key) => key.startsWith(`${prefix()}rl:ip:${group}:`)).length).toBeGreaterThan(0);
    }
    expect(keys.some((key) => key.startsWith(`${prefix()}rl:acct:`))).toBe(true);
  });

  it("a user's revocation keys share one slot; the service's keys spread over several slots and nodes", async () => {
    const user = await userWithTwoSessions('clusterslots');
    expect((await api.post('/api/logout/', {}, user.byUsername.access)).status).toBe(205);
    // A few more users, so the hash tags land on more than one node whatever the ids are.
    for (let index = 0; index < 6; index += 1) {
      const other = newUser('clusterspread');
      expect((await api.post('/api/register/', other)).status).toBe(201);
      const tokens = await login(other.username, other.password);
      expect((await api.get('/api/me/', tokens.access)).status).toBe(200);
    }

    const id = user.id;
    const stateKey = `${prefix()}ustate:{${id}}`;
    const sessionKeys = [user.byUsername, user.byEmail].map((tokens) => `${prefix()}sess:{${id}}:${decodePayload(tokens.access).sid}`);
    for (const key of [stateKey, ...sessionKeys]) expect(await inspector.exists(key)).toBe(1);
    const records = await Promise.all(sessionKeys.map(async (key) => JSON.parse((await inspector.get(key))!).s as string));
    expect(records).toEqual(['revoked', 'active']); // the username session logged out, the e-mail one alive
    const userSlots = new Set(await Promise.all([stateKey, ...sessionKeys, `${prefix()}resp:{${id}}:/api/me`].map(keySlot)));
    expect(userSlots.size).toBe(1);
    // One round trip reads them together on the cluster (what the hot path's MGET does).
    expect(await inspector.mget(stateKey, ...sessionKeys)).toHaveLength(3);

    // The login lookup cache (the Django system's key), by username and by e-mail.
    for (const identifier of [user.username, user.email]) {
      expect(await inspector.pttl(`${prefix()}user_lookup:${identifier}`)).toBeGreaterThan(0); // exists, with its 5-minute TTL
    }

    const keys = await serviceKeys();
    const slots = new Set(await Promise.all(keys.map(keySlot)));
    const owner = await slotOwners();
    const nodes = new Set([...slots].map(owner));
    expect(slots.size).toBeGreaterThanOrEqual(2);
    expect(nodes.size).toBeGreaterThanOrEqual(2);
    const users = new Set(keys.filter((key) => key.startsWith(`${prefix()}ustate:{`)).map((key) => key.slice(prefix().length)));
    expect(users.size).toBeGreaterThanOrEqual(8);
  });

  it('Redis itself saw the hot path run: MGETs served, no CROSSSLOT or other rejected command', async () => {
    await cluster.onEachNode((node) => node.config('RESETSTAT'));
    const user = await userWithTwoSessions('clusterstats'); // register, logins (lookup cache, rate limits), GET /api/me/
    expect((await api.post('/api/token/', { username: user.username, password: 'wrong-password-123' })).status).toBe(401);
    expect(await clusterStat('commandstats', 'cmdstat_mget', 'calls')).toBeGreaterThan(0); // revocation check
    expect(await clusterStat('commandstats', 'cmdstat_get', 'calls')).toBeGreaterThan(0); // caches
    expect(await clusterStat('commandstats', 'cmdstat_evalsha', 'calls')).toBeGreaterThan(0); // rate limiter
    const infos = await cluster.onEachNode(async (node) => ({ commands: await node.info('commandstats'), errors: await node.info('errorstats') }));
    for (const { commands, errors } of infos.values()) {
      // Every command the nodes ran succeeded (EVALSHA may answer NOSCRIPT once per node: ioredis then loads the script).
      const failing = commands
        .split('\r\n')
        .filter((line) => line.startsWith('cmdstat_') && !line.startsWith('cmdstat_evalsha:'))
        .filter((line) => !/,rejected_calls=0,failed_calls=0$/.test(line));
      expect(failing).toEqual([]);
      // No cluster error either. (errorstat_ERR is ioredis's CLIENT SETINFO, unknown to Redis 7.0.)
      const clusterErrors = errors.split('\r\n').filter((line) => /^errorstat_(CROSSSLOT|MOVED|ASK|TRYAGAIN|CLUSTERDOWN):/.test(line));
      expect(clusterErrors).toEqual([]);
    }
  });

  it('the cluster would catch a layout without a shared hash tag (CROSSSLOT)', async () => {
    // Two users whose state keys sit in different slots (a few tries: ids are consecutive, slots are not).
    const bySlot = new Map<number, string>();
    for (let attempt = 0; attempt < 10 && bySlot.size < 2; attempt += 1) {
      const user = newUser('clustercross');
      const registered = await api.post('/api/register/', user);
      expect(registered.status).toBe(201);
      await login(user.username, user.password);
      const key = `${prefix()}ustate:{${registered.body.id as number}}`;
      expect(await inspector.exists(key)).toBe(1);
      bySlot.set(await keySlot(key), key);
    }
    const [first, second] = [...bySlot.values()];
    expect(second).toBeDefined();
    await expect(inspector.mget(first, second)).rejects.toThrow(/CROSSSLOT/);
  });

  it('BullMQ runs on the cluster: the outbox relay and the mail worker deliver, every BullMQ key in one slot', async () => {
    const user = newUser('clusterbull');
    const registered = await api.post('/api/register/', user);
    expect(registered.status).toBe(201);
    // The registration's outbox row went to the mail queue on the cluster, and the worker sent it.
    await smtp.waitFor(user.email, /^Confirm your e-mail address$/, 20_000);
    const mailQueue = testApp.app.get<Queue>(getQueueToken(MAIL_QUEUE));
    const jobs = await mailQueue.getJobs(['completed']);
    expect(jobs.some((job) => job.name === 'verify-email' && (job.data as { userId: number }).userId === registered.body.id)).toBe(true);
    // The maintenance scheduler lives there too.
    const schedulers = await testApp.app.get<Queue>(getQueueToken(MAINTENANCE_QUEUE)).getJobSchedulers();
    expect(schedulers.length).toBeGreaterThan(0);

    // BullMQ's keys are under one hash-tagged prefix: many keys (queues, jobs, scheduler), one slot.
    const bullKeys = await serviceKeys(`${prefix()}${process.env.BULLMQ_PREFIX}`);
    expect(bullKeys.length).toBeGreaterThanOrEqual(5);
    expect(bullKeys.some((key) => key.includes(`:${MAIL_QUEUE}:`))).toBe(true);
    expect(bullKeys.some((key) => key.includes(`:${MAINTENANCE_QUEUE}:`))).toBe(true);
    const bullSlots = new Set(await Promise.all(bullKeys.map(keySlot)));
    expect(bullSlots.size).toBe(1);
  });
});
