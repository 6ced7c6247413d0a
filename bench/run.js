/**
 * The benchmark of the auth service: `npm run bench` (= `npm run build && node bench/run.js`).
 *
 *   npm run bench -- --duration 5 --connections 16,50 --runs 3
 *
 * What one run does:
 *   1. recreates the bench database (default auth_bench) and migrates it with dist/cli/migrate.js;
 *   2. starts the real service (node dist/main.js, NODE_ENV=production) on the real PostgreSQL and
 *      Redis, under its own Redis key prefix, and the floors (bench/floor.js, bare Fastify), both
 *      reaching PostgreSQL through a proxy that counts round trips on the wire (lib/pg-proxy.js);
 *   3. seeds users through the HTTP API (register, log in) and warms every route up;
 *   4. for each connection count, `runs` times, in this order: the /me floor, GET /api/me/,
 *      POST /api/token/verify/, the refresh floor, POST /api/token/refresh/, the login floor,
 *      POST /api/token/ — each for `duration` seconds with autocannon in its own process
 *      (bench/load.js), with Redis commands and PostgreSQL round trips counted around every run;
 *   5. times login for an existing and a non-existent user, reads the service's peak RSS, prints the
 *      report and writes it to bench/results/latest.md (plus latest.json);
 *   6. always (also on failure and on Ctrl-C): stops every child process by its pid, deletes the
 *      bench's Redis keys (SCAN + UNLINK of its prefix) and drops the bench database.
 *
 * Exit code: 0 when every target passes, 1 when one fails, 2 when the bench itself failed.
 *
 * `--profile` instead runs only GET /api/me/ against the service and then the floor, both started
 * with `node --cpu-prof --cpu-prof-dir=bench/results`, and prints the top self-time functions of
 * each load window with the CPU time per request (see bench/profile-summary.js).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { RedisCommandCounter } from './lib/counters.js';
import { PgRoundTripProxy } from './lib/pg-proxy.js';
import { JobWorker, freePort, memoryOf, startProcess, stopAll, stopProcess, runToCompletion, waitForHttp } from './lib/processes.js';
import { ROUTES, buildReport, median } from './lib/report.js';
import { benchUsers, loginMany, postJson, registerAll, timedLogin } from './lib/seed.js';
import { formatSummary, summariseProfile } from './profile-summary.js';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(BENCH_DIR, '..');
const RESULTS_DIR = join(BENCH_DIR, 'results');

const PG_SERVER = process.env.BENCH_PG_SERVER ?? 'postgres://postgres@127.0.0.1:5432';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

const USAGE = `usage: npm run bench -- [options]
  --duration <s>           seconds per measurement (default 5)
  --connections <n,n>      autocannon connections, one series per value (default 16,50)
  --login-connections <n>  connections for POST /api/token/ and its floor (default: the series' value)
  --runs <n>               measurements per route; the median ratio is reported (default 3)
  --users <n>              seeded users (default 50)
  --warmup <s>             warm-up seconds per route before the first run (default 1)
  --threadpool <n>         UV_THREADPOOL_SIZE of the service and the argon2 floor (default: inherited, else 4)
  --database <name>        bench database, dropped and recreated (default auth_bench)
  --keep-db                do not drop the bench database at the end
  --service-env K=V        extra environment variable for the service (repeatable), for experiments
  --profile                CPU-profile the service under GET /api/me/ load instead of the full bench
  --embedded               the service in embedded mode (no DATABASE_URL/REDIS_URL: PGlite, Redis roles in
                           process): req/s, first start, restart and RSS, no floor and no targets (bench/embedded.js)`;

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '16,50' },
    'login-connections': { type: 'string' },
    runs: { type: 'string', default: '3' },
    users: { type: 'string', default: '50' },
    warmup: { type: 'string', default: '1' },
    threadpool: { type: 'string' },
    database: { type: 'string', default: 'auth_bench' },
    'keep-db': { type: 'boolean', default: false },
    'service-env': { type: 'string', multiple: true, default: [] },
    profile: { type: 'boolean', default: false },
    embedded: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}

/** The node flags of the Procfile's web process (e.g. the heap limit), so the service runs as in production. */
function procfileNodeFlags() {
  const web = readFileSync(join(ROOT, 'Procfile'), 'utf8').split('\n').find((line) => line.startsWith('web:'));
  const words = (web ?? 'web: node dist/main.js').slice(4).trim().split(/\s+/);
  return words.slice(1, words.indexOf('dist/main.js'));
}

function positive(name, value, { integer = true } = {}) {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0 || (integer && !Number.isInteger(number))) {
    console.error(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got "${value}"\n${USAGE}`);
    process.exit(2);
  }
  return number;
}

const settings = {
  duration: positive('duration', flags.duration, { integer: false }),
  connectionSeries: flags.connections.split(',').map((value) => positive('connections', value.trim())),
  loginConnections: flags['login-connections'] === undefined ? undefined : positive('login-connections', flags['login-connections']),
  runs: positive('runs', flags.runs),
  users: positive('users', flags.users),
  warmup: Number(flags.warmup),
  threadpool: positive('threadpool', flags.threadpool ?? process.env.UV_THREADPOOL_SIZE ?? '4'),
  database: flags.database,
};
const extraServiceEnv = Object.fromEntries(
  flags['service-env'].map((pair) => {
    const eq = pair.indexOf('=');
    if (eq <= 0) {
      console.error(`--service-env takes NAME=VALUE, got "${pair}"`);
      process.exit(2);
    }
    return [pair.slice(0, eq), pair.slice(eq + 1)];
  }),
);
if (!/^[a-z_][a-z0-9_]*$/.test(settings.database)) {
  console.error('--database must be a plain lower-case identifier');
  process.exit(2);
}

/** Redis connection names of the service (src/redis/redis.service.ts), the floor and the counter. */
const OWN_REDIS_CLIENTS = ['auth-main', 'bench-floor', 'bench-counter'];

const started = performance.now();
const elapsed = () => ((performance.now() - started) / 1000).toFixed(1);
/** Progress goes to stderr; the report goes to stdout. */
const log = (message) => console.error(`[bench ${elapsed().padStart(5)} s] ${message}`);

if (flags.embedded) {
  // Embedded mode uses no PostgreSQL or Redis server: none of what follows (bench database, counters, cleanup).
  const { benchEmbedded } = await import('./embedded.js');
  let code = 2;
  try {
    code = await benchEmbedded({ root: ROOT, resultsDir: RESULTS_DIR, settings, nodeFlags: procfileNodeFlags(), extraServiceEnv, log });
  } catch (error) {
    log(`failed: ${error?.stack ?? error}`);
  }
  log(`done in ${elapsed()} s`);
  process.exit(code);
}

// Everything cleanup() must undo, filled in as the run goes.
const state = {
  prefix: `bench:${randomBytes(4).toString('hex')}:`,
  databaseCreated: false,
  redis: undefined,
  pgProxy: undefined,
  loader: undefined,
  service: undefined,
};

/** Throws (with its last output) when the service is no longer running. */
function assertServiceAlive() {
  const child = state.service?.child;
  if (child && (child.exitCode !== null || child.signalCode !== null)) {
    throw new Error(`the service died (${child.signalCode ?? child.exitCode}); its last output:\n${state.service.output.lines.slice(-40).join('\n')}`);
  }
}

/** Drops and recreates the bench database, then runs the service's migrations on it. */
async function recreateDatabase(databaseUrl) {
  const admin = new pg.Client({ connectionString: `${PG_SERVER}/postgres`, application_name: 'bench-admin' });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${admin.escapeIdentifier(settings.database)} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(settings.database)}`);
    state.databaseCreated = true;
  } finally {
    await admin.end();
  }
  await runToCompletion('migrations', process.execPath, [join(ROOT, 'dist/cli/migrate.js')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: databaseUrl, DATABASE_SSL: 'off', NODE_ENV: 'production' },
  });
}

/** The service's environment: production mode, bench database and prefix, limits that never trigger. */
function serviceEnv(port, databaseUrl, signingKey) {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    UV_THREADPOOL_SIZE: String(settings.threadpool),
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    NO_COLOR: '1', // plain log lines in bench/results/service.log
    HOST: '127.0.0.1',
    PORT: String(port),
    SWAGGER_ENABLED: 'false',
    JWT_SIGNING_KEY: signingKey,
    DATABASE_URL: databaseUrl,
    DATABASE_SSL: 'off', // the local PostgreSQL has no TLS (production defaults to require)
    REDIS_URL,
    REDIS_KEY_PREFIX: state.prefix,
    // Tokens outlive any bench run; the refresh grace window stays at its default (10 s).
    ACCESS_TOKEN_LIFETIME_SECONDS: '3600',
    // Rate limits must never trigger during a benchmark. The per-account login budgets stop at 100
    // (NIST SP 800-63B), which is enough: a successful login gives its point back, so only the
    // logins in flight at once and the few wrong passwords of the timing step hold points.
    RATE_LIMIT_IP_PER_MINUTE: '100000000',
    RATE_LIMIT_LOGIN_ACCOUNT_IP_ATTEMPTS: '100',
    RATE_LIMIT_LOGIN_ACCOUNT_ATTEMPTS: '100',
    SHUTDOWN_GRACE_MS: '2000',
    // The web process relays its outbox on a timer (src/jobs/outbox.service.ts: one transaction every
    // 2 s by default). That background poll is not request work: slowed down here, so that PostgreSQL
    // counts are per request and the counter's connection terminations never race it.
    ...extraServiceEnv,
  };
}

/** Deletes the bench's Redis keys and drops the database; stops every child. Safe to call twice. */
let cleaning;
function cleanup() {
  cleaning ??= (async () => {
    await stopAll();
    try {
      const redis = state.redis ?? new RedisCommandCounter(REDIS_URL);
      if (!state.redis) await redis.connect();
      const removed = await redis.deletePrefix(state.prefix);
      log(`deleted ${removed} Redis keys under ${state.prefix}`);
      await redis.close();
    } catch (error) {
      log(`could not delete the Redis keys under ${state.prefix}: ${error.message}`);
    }
    await state.pgProxy?.close();
    if (state.databaseCreated && !flags['keep-db']) {
      try {
        const admin = new pg.Client({ connectionString: `${PG_SERVER}/postgres`, application_name: 'bench-admin' });
        await admin.connect();
        await admin.query(`DROP DATABASE IF EXISTS ${admin.escapeIdentifier(settings.database)} WITH (FORCE)`);
        await admin.end();
        log(`dropped database ${settings.database}`);
      } catch (error) {
        log(`could not drop database ${settings.database}: ${error.message}`);
      }
    }
  })();
  return cleaning;
}

let interrupted = false;
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]]) {
  process.on(signal, () => {
    interrupted = true;
    log(`${signal}: stopping and cleaning up`);
    cleanup().finally(() => process.exit(code));
  });
}

/** One autocannon run in the load process (bench/load.js). */
function load(job) {
  state.loader ??= new JobWorker(join(BENCH_DIR, 'load.js'));
  return state.loader.run({ durationSeconds: settings.duration, ...job }).then((a) => a.summary);
}

/**
 * Runs one measurement with the hot-path counters around it. autocannon stops with requests in
 * flight (for login, a queue of argon2 verifies): the counters are read after those have had time
 * to finish (1.5 × the run's p99 latency, at least 200 ms).
 */
async function measured(job) {
  assertServiceAlive();
  const pgBefore = state.pgProxy.read();
  const strangersBefore = await state.redis.strangers(OWN_REDIS_CLIENTS);
  const redisBefore = await state.redis.snapshot();
  const summary = await load(job);
  await sleep(Math.max(200, 1.5 * summary.latency.p99));
  const redis = RedisCommandCounter.delta(redisBefore, await state.redis.snapshot());
  // Other clients of the shared Redis during the run: their commands are in the delta too.
  redis.otherClients = Math.max(strangersBefore, await state.redis.strangers(OWN_REDIS_CLIENTS));
  assertServiceAlive();
  return { summary, redis, pgTrips: state.pgProxy.read() - pgBefore };
}

async function main() {
  const signingKey = randomBytes(32).toString('hex'); // 64 characters (the service wants 32+ in production)
  const directUrl = `${PG_SERVER}/${settings.database}`;
  const [servicePort, floorPort] = [await freePort(), await freePort()];
  const serviceUrl = `http://127.0.0.1:${servicePort}`;
  const floorUrl = `http://127.0.0.1:${floorPort}`;
  mkdirSync(RESULTS_DIR, { recursive: true });
  if (!existsSync(join(ROOT, 'dist/main.js'))) {
    throw new Error('dist/ is missing or half built (a build may be running): run `npm run build`, or wait and retry');
  }

  log(`database ${settings.database}: recreate and migrate`);
  await recreateDatabase(directUrl);

  state.redis = new RedisCommandCounter(REDIS_URL);
  await state.redis.connect();
  // The service and the floors reach PostgreSQL through the counting proxy.
  const pgServer = new URL(PG_SERVER);
  state.pgProxy = new PgRoundTripProxy({ host: pgServer.hostname, port: Number(pgServer.port || 5432) });
  const proxied = new URL(directUrl);
  proxied.port = String(await state.pgProxy.listen());
  const databaseUrl = proxied.toString();
  const selfTest = await proxySelfTest(databaseUrl, 25);
  log(`PostgreSQL round-trip counter self-test: 25 queries and a 3-statement transaction → ${selfTest} round trips`);

  // --- the service --------------------------------------------------------------------------
  const profileArgs = flags.profile ? ['--cpu-prof', `--cpu-prof-dir=${RESULTS_DIR}`] : [];
  const nodeFlags = [...procfileNodeFlags(), ...profileArgs];
  log(`service: node ${[...nodeFlags, 'dist/main.js'].join(' ')} on ${serviceUrl} (prefix ${state.prefix})`);
  const service = startProcess('service', process.execPath, [...nodeFlags, join(ROOT, 'dist/main.js')], {
    cwd: ROOT,
    env: serviceEnv(servicePort, databaseUrl, signingKey),
    logFile: join(RESULTS_DIR, flags.profile ? 'service-profile.log' : 'service.log'),
    keepLines: Infinity,
  });
  state.service = service;
  await waitForHttp(`${serviceUrl}/health/live/`, service);
  // The service's memory at each stage (VmHWM only grows: shows what raised the peak).
  const memoryMarks = [{ stage: 'started', ...memoryOf(service.child.pid) }];

  // --- seed ---------------------------------------------------------------------------------
  const users = benchUsers(settings.users);
  log(`seeding ${users.length} users (register + log in)`);
  await registerAll(serviceUrl, users);
  const sessions = await loginMany(serviceUrl, users, users.length);
  const bearer = sessions.map((s) => ({ headers: { authorization: `Bearer ${s.access}` } }));
  const jsonHeaders = { 'content-type': 'application/json' };
  const loginBodies = users.map((u) => ({ headers: jsonHeaders, body: JSON.stringify({ username: u.username, password: u.password }) }));

  // --- the floors ---------------------------------------------------------------------------
  const floor = startProcess('floor', process.execPath, [...profileArgs, join(BENCH_DIR, 'floor.js')], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      UV_THREADPOOL_SIZE: String(settings.threadpool),
      FLOOR_PORT: String(floorPort),
      JWT_SIGNING_KEY: signingKey,
      REDIS_URL,
      REDIS_KEY_PREFIX: state.prefix,
      DATABASE_URL: databaseUrl,
    },
  });
  await waitForHttp(`${floorUrl}/health/`, floor);
  const loaded = await postJson(floorUrl, '/floor/load-users/', {});
  if (loaded.status !== 200 || loaded.json.users < users.length) throw new Error(`floor: loading the users failed: ${loaded.status} ${loaded.text}`);
  const argon2Phc = loaded.json.phc;

  /** The autocannon job of every route and floor, for `connections` connections. */
  const jobsFor = (connections) => {
    const loginConnections = settings.loginConnections ?? connections;
    return {
      floor: { url: floorUrl, method: 'GET', path: '/api/me/', mode: 'static', connections, perConnection: bearer },
      me: { url: serviceUrl, method: 'GET', path: '/api/me/', mode: 'static', connections, perConnection: bearer },
      verify: {
        url: serviceUrl,
        method: 'POST',
        path: '/api/token/verify/',
        mode: 'static',
        connections,
        perConnection: sessions.map((s) => ({ headers: jsonHeaders, body: JSON.stringify({ token: s.access }) })),
      },
      // Each refresh measurement gets fresh chains: the request in flight when autocannon stops
      // rotates its chain without the client seeing the answer, so a chain is not reusable later.
      refresh: (chains) => ({ url: serviceUrl, method: 'POST', path: '/api/token/refresh/', mode: 'refresh-chain', connections, chains }),
      refreshFloor: (chains) => ({ url: floorUrl, method: 'POST', path: '/api/token/refresh/', mode: 'refresh-chain', connections, chains }),
      login: { url: serviceUrl, method: 'POST', path: '/api/token/', mode: 'static', connections: loginConnections, perConnection: loginBodies },
      loginFloor: { url: floorUrl, method: 'POST', path: '/api/token/', mode: 'static', connections: loginConnections, perConnection: loginBodies },
    };
  };

  if (flags.profile) return profile({ service, floor }, jobsFor(settings.connectionSeries[0]));

  // Refresh chains: the service's come from logins (one session each), the floor's it mints itself.
  const serviceChains = new Map();
  for (const connections of settings.connectionSeries) {
    const sets = [];
    for (let set = 0; set <= settings.runs; set++) sets.push((await loginMany(serviceUrl, users, connections)).map((s) => s.refresh));
    serviceChains.set(connections, sets);
  }
  const floorChains = async (count) => (await postJson(floorUrl, '/floor/chains/', { count })).json.chains;
  const logins = settings.connectionSeries.reduce((total, c) => total + (settings.runs + 1) * c, 0);
  log(`refresh sessions ready: ${settings.runs + 1} × (${settings.connectionSeries.join(' + ')})`);
  memoryMarks.push({ stage: `seeded (${users.length} registrations, ${users.length + logins} logins)`, ...memoryOf(service.child.pid) });

  // --- warm-up (not measured) ---------------------------------------------------------------
  if (settings.warmup > 0) {
    log(`warm-up: ${settings.warmup} s per route`);
    const connections = Math.max(...settings.connectionSeries);
    const jobs = jobsFor(connections);
    const warmups = [jobs.floor, jobs.me, jobs.verify, jobs.refreshFloor(await floorChains(connections)), jobs.refresh(serviceChains.get(connections)[settings.runs]), jobs.loginFloor, jobs.login];
    for (const job of warmups) {
      const summary = await load({ ...job, durationSeconds: settings.warmup });
      await sleep(Math.max(200, 1.5 * summary.latency.p99)); // let the requests in flight finish
      log(`  warm-up ${job.method} ${job.url === floorUrl ? 'floor ' : ''}${job.path}: ${summary.rps.toFixed(0)} req/s`);
      if (summary.non2xx > 0 || summary.errors > 0) throw new Error(`warm-up of ${job.path} failed: ${JSON.stringify(summary.statusCodes)}, ${summary.errors} errors`);
    }
  }
  memoryMarks.push({ stage: 'warmed up', ...memoryOf(service.child.pid) });

  // --- the measured runs --------------------------------------------------------------------
  const results = [];
  for (const connections of settings.connectionSeries) {
    const jobs = jobsFor(connections);
    for (let run = 1; run <= settings.runs; run++) {
      const record = (key, m) => {
        // The service's peak RSS so far: shows which measurement raised it.
        results.push({ key, connections, run, ...m, serviceMemory: memoryOf(service.child.pid) });
        const floorKey = ROUTES.find((r) => r.key === key)?.floorKey;
        const floorRps = results.find((r) => r.key === floorKey && r.connections === connections && r.run === run)?.summary.rps;
        const ratio = floorRps ? `  ratio ${(m.summary.rps / floorRps).toFixed(2)}` : '';
        const counts = `  redis/req ${(m.redis.total / m.summary.sent).toFixed(2)}${m.redis.otherClients ? ` (${m.redis.otherClients} other clients)` : ''}`;
        const pgCount = `  pg trips/req ${(m.pgTrips / m.summary.sent).toFixed(3)}`;
        log(
          `${String(connections).padStart(3)} conns run ${run} ${key.padEnd(12)} ${m.summary.rps.toFixed(0).padStart(6)} req/s  p50 ${m.summary.latency.p50.toFixed(0)} ms  ` +
            `p99 ${m.summary.latency.p99.toFixed(0)} ms  non-2xx ${m.summary.non2xx}  errors ${m.summary.errors}${ratio}${counts}${pgCount}`,
        );
      };
      record('floor', await measured(jobs.floor));
      record('me', await measured(jobs.me));
      record('verify', await measured(jobs.verify));
      record('refreshFloor', await measured(jobs.refreshFloor(await floorChains(connections))));
      record('refresh', await measured(jobs.refresh(serviceChains.get(connections)[run - 1])));
      record('loginFloor', await measured(jobs.loginFloor));
      record('login', await measured(jobs.login));
    }
  }

  // --- login timing: the same work for a missing user ---------------------------------------
  log('login timing: existing vs non-existent user');
  const timing = { existing: [], wrong: [], missing: [] };
  const statuses = { existing: new Set(), wrong: new Set(), missing: new Set() };
  for (let i = 0; i < 20; i++) {
    const user = users[i % users.length];
    for (const [kind, username, password] of [
      ['existing', user.username, user.password],
      ['missing', `nobody_${randomBytes(4).toString('hex')}`, user.password],
      ['wrong', user.username, `${user.password}-wrong`],
    ]) {
      const { ms, status } = await timedLogin(serviceUrl, username, password);
      timing[kind].push(ms);
      statuses[kind].add(status);
    }
  }
  const p90 = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length * 0.9)];
  const loginTiming = [
    { label: 'existing user, right password', kind: 'existing' },
    { label: 'non-existent user', kind: 'missing' },
    { label: 'existing user, wrong password', kind: 'wrong' },
  ].map(({ label, kind }) => ({ label, status: [...statuses[kind]].join(','), medianMs: median(timing[kind]), p90Ms: p90(timing[kind]), n: timing[kind].length }));

  const memory = { ...memoryOf(service.child.pid), marks: [...memoryMarks, { stage: 'end', ...memoryOf(service.child.pid) }] };
  await stopProcess(floor.child);
  await stopProcess(service.child);

  const logLines = service.output.lines.filter((line) => !/^\s+at /.test(line));
  const serviceLogNote =
    `Service output (LOG_LEVEL=warn, full text in bench/results/service.log): ${service.output.total} lines` +
    (logLines.length ? `; first: "${logLines[0].slice(0, 240)}"` : '; no warning or error.');
  const report = buildReport({
    results,
    loginTiming,
    memory,
    settings: {
      when: new Date().toISOString(),
      runs: settings.runs,
      duration: settings.duration,
      connectionSeries: settings.connectionSeries,
      loginConnections: settings.loginConnections,
      cpus: availableParallelism(),
      node: process.version,
      threadpool: settings.threadpool,
      argon2: argon2Phc,
      users: settings.users,
    },
    notes: [
      'Ratio: the route\'s requests/s ÷ its floor\'s requests/s measured in the same run at the same connection count (the floor just before it); each target is checked on the median of the per-run ratios, at every connection count.',
      'Floors (bench/floor.js, bare Fastify 5, no Nest, node:crypto HS256 with a prebuilt KeyObject): GET /api/me/ and verify — HS256 verify + one Redis MGET of the service\'s revocation keys, driven exactly like GET /api/me/ (same bearer tokens); refresh — HS256 verify + one PostgreSQL upsert of the chain\'s current jti (conditional on the presented one) + two HS256 signs, one rotation chain per connection like the service\'s; login — argon2id verify of the service\'s own stored hashes (same parameters and UV_THREADPOOL_SIZE) + one Redis SET + two HS256 signs, same bodies and connections as the service\'s login.',
      'Redis commands per request: INFO commandstats deltas around the run (INFO itself left out) ÷ requests sent (autocannon\'s completed requests plus the one per connection in flight when it stops, which the server serves too); the per-command breakdown is in brackets. The Redis is shared: commands of other clients connected during a run (column "other Redis clients"; the service, the floor and the counter excluded) land in the same delta. Point BENCH_REDIS_URL at a private Redis for exact counts.',
      `PostgreSQL round trips per request: counted on the wire by a loopback proxy between the service (and the floors) and PostgreSQL (bench/lib/pg-proxy.js): each simple Query and each Sync of an extended-protocol batch is one trip; a BEGIN/INSERT/COMMIT transaction is three. Self-test: 25 queries and a 3-statement transaction → ${selfTest} (expected 28). The proxy adds one loopback hop to every PostgreSQL trip of the service and of the refresh floor alike.`,
      'Latencies: autocannon\'s histogram of 2xx responses, whole milliseconds. req/s: responses completed ÷ duration.',
      'Peak RSS: VmHWM of the service process (node dist/main.js with the Procfile\'s node flags) at the end: it covers seeding, warm-up, every run and the login timing.',
      serviceLogNote,
      ...(Object.keys(extraServiceEnv).length ? [`Extra service environment (--service-env): ${Object.keys(extraServiceEnv).join(', ')}.`] : []),
      `Wall time of bench/run.js: ${elapsed()} s (plus the build).`,
    ],
  });

  console.log(report.markdown);
  writeFileSync(join(RESULTS_DIR, 'latest.md'), `${report.markdown}\n`);
  writeFileSync(join(RESULTS_DIR, 'latest.json'), `${JSON.stringify({ settings, results, loginTiming, memory, checks: report.checks }, null, 2)}\n`);
  log(`report written to ${join('bench', 'results', 'latest.md')}`);
  return report.checks.every((c) => c.pass) ? 0 : 1;
}

/** Checks the round-trip counter: 25 autocommit queries and one 3-statement transaction on a fresh connection. */
async function proxySelfTest(databaseUrl, count) {
  const before = state.pgProxy.read();
  const probe = new pg.Client({ connectionString: databaseUrl, application_name: 'bench-selftest' });
  await probe.connect();
  for (let i = 0; i < count; i++) await probe.query('SELECT $1::int', [i]);
  await probe.query('BEGIN');
  await probe.query('SELECT 1');
  await probe.query('COMMIT');
  await probe.end();
  return state.pgProxy.read() - before;
}

/**
 * --profile: GET /api/me/ load on the service, then the same load on the floor, both started with
 * `--cpu-prof --cpu-prof-dir=bench/results`. A profile is written when its process exits (SIGTERM);
 * each is summarised over its load window only (start-up and seeding left out), with the main
 * thread's CPU time per request, so the two can be compared.
 */
async function profile(processes, jobs) {
  const windows = {};
  for (const [name, job] of [['service', jobs.me], ['floor', jobs.floor]]) {
    if (settings.warmup > 0) await load({ ...job, durationSeconds: settings.warmup });
    const from = Number(process.hrtime.bigint() / 1000n);
    const summary = await load(job);
    const to = Number(process.hrtime.bigint() / 1000n);
    windows[name] = { from, to, summary };
    log(`profiled ${name} under GET /api/me/: ${summary.rps.toFixed(0)} req/s, non-2xx ${summary.non2xx}, errors ${summary.errors}`);
  }
  const sections = [];
  for (const name of ['service', 'floor']) {
    const { child } = processes[name];
    const pid = child.pid;
    await stopProcess(child, 15_000);
    // Node names the file CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile.
    const file = readdirSync(RESULTS_DIR).find((f) => f.endsWith('.cpuprofile') && f.split('.')[3] === String(pid));
    if (!file) throw new Error(`the ${name} (pid ${pid}) wrote no .cpuprofile`);
    const { from, to, summary } = windows[name];
    let result = summariseProfile(join(RESULTS_DIR, file), { from, to });
    if (result.samples === 0) result = summariseProfile(join(RESULTS_DIR, file)); // clocks did not line up: whole profile
    const requests = summary.sent;
    sections.push(
      `## ${name === 'service' ? 'Service (node dist/main.js)' : 'Floor (bench/floor.js)'}: ${summary.rps.toFixed(0)} req/s, ` +
        `${((result.busyMs * 1000) / requests).toFixed(0)} µs of main-thread CPU per request\n\n` +
        `Profile: bench/results/${file} — load window: \`node bench/profile-summary.js bench/results/${file} --from ${from} --to ${to} --requests ${requests} --top 80\`\n\n` +
        `${formatSummary(result, name === 'service' ? 30 : 15, requests)}\n`,
    );
  }
  const text = `# CPU profiles under GET /api/me/ (${settings.connectionSeries[0]} connections, ${settings.duration} s each)\n\n${sections.join('\n')}`;
  console.log(text);
  writeFileSync(join(RESULTS_DIR, 'profile-latest.md'), text);
  return 0;
}

let exitCode;
try {
  exitCode = await main();
} catch (error) {
  // After Ctrl-C the children die under the running step: that is not a failure to report.
  if (!interrupted) log(`failed: ${error?.stack ?? error}`);
  exitCode = 2;
} finally {
  await cleanup();
}
log(`done in ${elapsed()} s`);
process.exit(exitCode);
