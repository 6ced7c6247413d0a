/**
 * `npm run bench -- --embedded`: the service in embedded mode (no DATABASE_URL, no REDIS_URL:
 * PGlite in process, the Redis roles in memory), as `npm run start:local` runs it. No targets and
 * no floor: it reports what a developer's laptop gets — req/s for GET /api/me/, token verify,
 * refresh and login, the first start (initdb + migrations) and a restart on the same data, and RSS.
 *
 * Embedded mode is development-only (production refuses it), so the service runs with
 * NODE_ENV=development and LOG_LEVEL=warn, with the Procfile's node flags, on a temporary DATA_DIR
 * that is deleted at the end. It opens no connection to PostgreSQL or Redis servers, and neither
 * does this script.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { JobWorker, freePort, memoryOf, startProcess, stopAll, stopProcess, waitForHttp } from './lib/processes.js';
import { median } from './lib/report.js';
import { benchUsers, loginMany, registerAll } from './lib/seed.js';

/** Starts dist/main.js embedded on `dataDir`; resolves when /health/live/ answers, with the time it took. */
async function startEmbedded({ root, nodeFlags, env, logFile }) {
  const began = performance.now();
  const service = startProcess('service', process.execPath, [...nodeFlags, join(root, 'dist/main.js')], { cwd: root, env, logFile, keepLines: 400 });
  await waitForHttp(`http://127.0.0.1:${env.PORT}/health/live/`, service, 180_000);
  return { service, ms: performance.now() - began };
}

export async function benchEmbedded({ root, resultsDir, settings, nodeFlags, extraServiceEnv, log }) {
  // One series: the largest of --connections (50 by default).
  const connections = Math.max(...settings.connectionSeries);
  const loginConnections = settings.loginConnections ?? connections;
  const dataDir = mkdtempSync(join(tmpdir(), 'auth-bench-embedded-'));
  mkdirSync(resultsDir, { recursive: true });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    UV_THREADPOOL_SIZE: String(settings.threadpool),
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    NO_COLOR: '1',
    HOST: '127.0.0.1',
    PORT: String(port),
    SWAGGER_ENABLED: 'false',
    JWT_SIGNING_KEY: randomBytes(32).toString('hex'),
    DATA_DIR: dataDir,
    ACCESS_TOKEN_LIFETIME_SECONDS: '3600',
    RATE_LIMIT_IP_PER_MINUTE: '100000000',
    RATE_LIMIT_LOGIN_ACCOUNT_IP_ATTEMPTS: '100',
    RATE_LIMIT_LOGIN_ACCOUNT_ATTEMPTS: '100',
    SHUTDOWN_GRACE_MS: '5000',
    ...extraServiceEnv,
  };
  const logFile = join(resultsDir, 'service-embedded.log');
  let loader;
  try {
    log(`embedded: node ${[...nodeFlags, 'dist/main.js'].join(' ')} on ${url}, DATA_DIR ${dataDir}`);
    const first = await startEmbedded({ root, nodeFlags, env, logFile });
    const firstStartMs = first.ms;
    const afterFirstStart = memoryOf(first.service.child.pid);
    log(`first start (initdb + migrations): ${firstStartMs.toFixed(0)} ms, RSS ${afterFirstStart.currentMb.toFixed(0)} MB`);

    // A restart on the same data (what a developer sees after the first day).
    await stopProcess(first.service.child, 10_000);
    const stoppedWith = await first.service.exited;
    if (stoppedWith !== 0) throw new Error(`the service did not exit cleanly on SIGTERM (${stoppedWith})`);
    const restarted = await startEmbedded({ root, nodeFlags, env, logFile: `${logFile}.restart` });
    const service = restarted.service;
    const restartMs = restarted.ms;
    const afterStart = memoryOf(service.child.pid);
    log(`restart: ${restartMs.toFixed(0)} ms, RSS ${afterStart.currentMb.toFixed(0)} MB`);

    const users = benchUsers(settings.users);
    log(`seeding ${users.length} users (register + log in)`);
    await registerAll(url, users);
    const sessions = await loginMany(url, users, users.length);
    const json = { 'content-type': 'application/json' };
    loader = new JobWorker(join(root, 'bench', 'load.js'));
    const run = async (job, seconds = settings.duration) => (await loader.run({ durationSeconds: seconds, connections, ...job })).summary;
    const jobs = {
      me: { url, method: 'GET', path: '/api/me/', mode: 'static', perConnection: sessions.map((s) => ({ headers: { authorization: `Bearer ${s.access}` } })) },
      verify: { url, method: 'POST', path: '/api/token/verify/', mode: 'static', perConnection: sessions.map((s) => ({ headers: json, body: JSON.stringify({ token: s.access }) })) },
      login: {
        url,
        method: 'POST',
        path: '/api/token/',
        mode: 'static',
        connections: loginConnections,
        perConnection: users.map((u) => ({ headers: json, body: JSON.stringify({ username: u.username, password: u.password }) })),
      },
      refresh: (chains) => ({ url, method: 'POST', path: '/api/token/refresh/', mode: 'refresh-chain', chains }),
    };
    const chainSets = [];
    for (let set = 0; set <= settings.runs; set++) chainSets.push((await loginMany(url, users, connections)).map((s) => s.refresh));

    if (settings.warmup > 0) {
      log(`warm-up: ${settings.warmup} s per route`);
      for (const job of [jobs.me, jobs.verify, jobs.refresh(chainSets[settings.runs]), jobs.login]) await run(job, settings.warmup);
    }
    const results = { me: [], verify: [], refresh: [], login: [] };
    for (let index = 1; index <= settings.runs; index++) {
      for (const key of Object.keys(results)) {
        const summary = await run(key === 'refresh' ? jobs.refresh(chainSets[index - 1]) : jobs[key]);
        results[key].push(summary);
        log(`run ${index} ${key.padEnd(7)} ${summary.rps.toFixed(0).padStart(6)} req/s  p50 ${summary.latency.p50.toFixed(0)} ms  p99 ${summary.latency.p99.toFixed(0)} ms  non-2xx ${summary.non2xx}  errors ${summary.errors}`);
      }
    }
    const peak = memoryOf(service.child.pid);
    await stopProcess(service.child, 10_000);

    const rows = [
      ['GET /api/me/', 'me'],
      ['POST /api/token/verify/', 'verify'],
      ['POST /api/token/refresh/', 'refresh'],
      ['POST /api/token/', 'login'],
    ].map(([route, key]) => {
      const runs = results[key];
      const pick = (f) => median(runs.map(f));
      const failures = runs.reduce((sum, s) => sum + s.non2xx + s.errors, 0);
      return `| ${route} | ${pick((s) => s.rps).toFixed(0)} | ${pick((s) => s.latency.p50).toFixed(0)} / ${pick((s) => s.latency.p99).toFixed(0)} | ${failures} |`;
    });
    const report = [
      `# Embedded mode (PGlite + in-process Redis roles), ${connections} connections, ${settings.duration} s × ${settings.runs}`,
      '',
      '| route | req/s (median) | p50 / p99 ms | non-2xx + errors |',
      '| --- | --- | --- | --- |',
      ...rows,
      '',
      `First start (initdb + migrations): ${(firstStartMs / 1000).toFixed(1)} s · restart on the same data: ${(restartMs / 1000).toFixed(1)} s · ` +
        `RSS after the first start ${afterFirstStart.currentMb.toFixed(0)} MB, after the restart ${afterStart.currentMb.toFixed(0)} MB, peak under load ${peak.peakMb.toFixed(0)} MB`,
    ].join('\n');
    console.log(report);
    writeFileSync(join(resultsDir, 'embedded-latest.md'), `${report}\n`);
    return 0;
  } finally {
    await loader?.stop();
    await stopAll();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
