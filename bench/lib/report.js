/**
 * Turns the measurements of bench/run.js into the printed (and saved) Markdown report, and evaluates
 * the targets of the benchmark issue.
 */

export const TARGETS = {
  meRatio: 0.7, // GET /api/me/ ≥ 0.70 × floor requests/s
  loginRatio: 0.85, // POST /api/token/ ≥ 0.85 × raw argon2id verify rate
  peakRssMb: 200, // web process peak RSS
  meRedisPerRequest: 2, // 1 revocation MGET + 1 response-cache GET
  mePgPerRequest: 0.01, // "~0": a response-cache refill now and then is fine
  // Noise allowance on the Redis count: per-user response-cache refills (GET + SET when an entry
  // expires) and stray commands of other clients of the shared Redis.
  redisSlack: 0.02,
};

export const median = (values) => {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const fmt = (value, digits = 0) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
const sum = (values) => values.reduce((a, b) => a + b, 0);

function table(header, rows) {
  const lines = [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`];
  for (const row of rows) lines.push(`| ${row.join(' | ')} |`);
  return lines.join('\n');
}

/** Per-command Redis calls per request, e.g. "mget 1.00, get 1.00". */
function redisBreakdown(byCommand, requests) {
  const entries = Object.entries(byCommand)
    .map(([command, calls]) => [command, calls / requests])
    .filter(([, perRequest]) => perRequest >= 0.005)
    .sort((a, b) => b[1] - a[1]);
  return entries.length ? entries.map(([command, perRequest]) => `${command} ${perRequest.toFixed(2)}`).join(', ') : '—';
}

/** Sums the Redis breakdowns of several runs. */
function mergeCommands(list) {
  const merged = {};
  for (const byCommand of list) for (const [command, calls] of Object.entries(byCommand)) merged[command] = (merged[command] ?? 0) + calls;
  return merged;
}

/**
 * @param m.routes       [{ key, label, floorKey }]
 * @param m.floors       { floor: { label }, argon2: { label } }
 * @param m.results      [{ key, run, summary, redis?, pgXacts? }] for routes and floors
 * @param m.loginTiming  [{ label, status, medianMs, n }]
 * @param m.memory       { peakMb, currentMb }
 * @param m.settings     printed as-is in the header
 * @param m.notes        extra lines for the notes section
 */
export function buildReport(m) {
  const runs = [...new Set(m.results.map((r) => r.run))].sort((a, b) => a - b);
  const of = (key) => m.results.filter((r) => r.key === key).sort((a, b) => a.run - b.run);
  const ratiosOf = (route) =>
    runs.map((run) => {
      const mine = m.results.find((r) => r.key === route.key && r.run === run);
      const floor = m.results.find((r) => r.key === route.floorKey && r.run === run);
      return mine && floor ? mine.summary.rps / floor.summary.rps : NaN;
    });

  const routeStats = {};
  for (const route of m.routes) {
    const rows = of(route.key);
    const requests = sum(rows.map((r) => r.summary.sent));
    const ratios = ratiosOf(route);
    routeStats[route.key] = {
      rows,
      ratios,
      medianRatio: median(ratios),
      rps: median(rows.map((r) => r.summary.rps)),
      floorRps: median(of(route.floorKey).map((r) => r.summary.rps)),
      p50: median(rows.map((r) => r.summary.latency.p50)),
      p99: median(rows.map((r) => r.summary.latency.p99)),
      errors: sum(rows.map((r) => r.summary.errors + r.summary.timeouts)),
      non2xx: sum(rows.map((r) => r.summary.non2xx)),
      requests,
      redisPerRequest: sum(rows.map((r) => r.redis.total)) / requests,
      redisCommands: mergeCommands(rows.map((r) => r.redis.byCommand)),
      pgPerRequest: sum(rows.map((r) => r.pgXacts)) / requests,
      chainFailures: rows.flatMap((r) => r.summary.chainFailures ?? []),
    };
  }

  const out = [];
  out.push(`# Auth service benchmark — ${m.settings.when}`);
  out.push('');
  out.push(
    `${m.settings.runs} runs × ${m.settings.duration} s per measurement, ${m.settings.connections} connections ` +
      `(login: ${m.settings.loginConnections}), ${m.settings.cpus} CPUs, Node ${m.settings.node}, ` +
      `UV_THREADPOOL_SIZE=${m.settings.threadpool} (service and argon2 floor), argon2 floor hash \`${m.settings.argon2.phc}\`, ` +
      `${m.settings.users} users.`,
  );
  out.push('');

  out.push('## Summary (median of the runs; ratio = route req/s ÷ its floor\'s req/s in the same run)');
  out.push('');
  out.push(
    table(
      ['route', 'req/s', 'floor', 'floor req/s', 'ratio (median)', 'ratios per run', 'p50 ms', 'p99 ms', 'errors', 'non-2xx', 'Redis cmds/req', 'PG xacts/req'],
      m.routes.map((route) => {
        const s = routeStats[route.key];
        return [
          route.label,
          fmt(s.rps),
          m.floors[route.floorKey].short,
          fmt(s.floorRps),
          `**${fmt(s.medianRatio, 2)}**`,
          s.ratios.map((r) => fmt(r, 2)).join(' / '),
          fmt(s.p50, 1),
          fmt(s.p99, 1),
          String(s.errors),
          String(s.non2xx),
          `${fmt(s.redisPerRequest, 2)} (${redisBreakdown(s.redisCommands, s.requests)})`,
          fmt(s.pgPerRequest, 3),
        ];
      }),
    ),
  );
  out.push('');

  // Targets.
  const me = routeStats.me;
  const login = routeStats.login;
  const checks = [];
  const check = (name, pass, detail) => checks.push({ name, pass, detail });
  check(
    `GET /api/me/ ≥ ${TARGETS.meRatio} × floor req/s, 0 errors`,
    me.medianRatio >= TARGETS.meRatio && me.errors === 0 && me.non2xx === 0,
    `median ratio ${fmt(me.medianRatio, 2)} (${me.ratios.map((r) => fmt(r, 2)).join(', ')}), errors ${me.errors}, non-2xx ${me.non2xx}`,
  );
  check(
    `POST /api/token/ ≥ ${TARGETS.loginRatio} × raw argon2id verify rate`,
    login.medianRatio >= TARGETS.loginRatio,
    `median ratio ${fmt(login.medianRatio, 2)} (${login.ratios.map((r) => fmt(r, 2)).join(', ')}): ${fmt(login.rps)} logins/s vs ${fmt(login.floorRps)} verifies/s`,
  );
  check(
    `peak RSS of the web process ≤ ${TARGETS.peakRssMb} MB`,
    m.memory.peakMb <= TARGETS.peakRssMb,
    `VmHWM ${fmt(m.memory.peakMb, 1)} MB; by stage: ${(m.memory.marks ?? []).map((k) => `${k.stage} ${fmt(k.peakMb, 0)}`).join(', ')} (VmRSS at the end ${fmt(m.memory.currentMb, 0)} MB)`,
  );
  check(
    `GET /api/me/ ≤ ${TARGETS.meRedisPerRequest} Redis commands per request`,
    me.redisPerRequest <= TARGETS.meRedisPerRequest + TARGETS.redisSlack,
    `${fmt(me.redisPerRequest, 3)} (${redisBreakdown(me.redisCommands, me.requests)}; allowance +${TARGETS.redisSlack} for cache refills and other clients)`,
  );
  check(`GET /api/me/ ~0 PostgreSQL queries per request (≤ ${TARGETS.mePgPerRequest})`, me.pgPerRequest <= TARGETS.mePgPerRequest, `${fmt(me.pgPerRequest, 4)} transactions per request`);
  const allRows = Object.values(routeStats);
  const totalErrors = sum(allRows.map((s) => s.errors));
  const totalNon2xx = sum(allRows.map((s) => s.non2xx));
  check('every route: 0 errors and 0 non-2xx', totalErrors === 0 && totalNon2xx === 0, `errors ${totalErrors}, non-2xx ${totalNon2xx}`);

  out.push('## Targets');
  out.push('');
  out.push(table(['target', 'result', 'measured'], checks.map((c) => [c.name, c.pass ? '**PASS**' : '**FAIL**', c.detail])));
  out.push('');

  // Per-run detail.
  out.push('## Every measurement');
  out.push('');
  // In the order the measurements ran.
  const detailRows = m.results.map((r) => {
    const route = m.routes.find((x) => x.key === r.key);
    const label = route ? route.label : m.floors[r.key].label;
    const floorRow = route ? m.results.find((x) => x.key === route.floorKey && x.run === r.run) : undefined;
    return [
      String(r.run),
      label,
      fmt(r.summary.rps),
      floorRow ? fmt(r.summary.rps / floorRow.summary.rps, 2) : '—',
      String(r.summary.requests),
      fmt(r.summary.latency.p50, 1),
      fmt(r.summary.latency.p99, 1),
      String(r.summary.errors + r.summary.timeouts),
      String(r.summary.non2xx),
      r.redis ? `${fmt(r.redis.total / r.summary.sent, 2)} (${redisBreakdown(r.redis.byCommand, r.summary.sent)})` : '—',
      r.redis ? String(r.redis.otherClients) : '—',
      r.pgXacts !== undefined ? fmt(r.pgXacts / r.summary.sent, 3) : '—',
      r.serviceMemory ? fmt(r.serviceMemory.peakMb, 0) : '—',
    ];
  });
  out.push(
    table(
      ['run', 'measurement', 'req/s', 'ratio', 'completed', 'p50 ms', 'p99 ms', 'errors', 'non-2xx', 'Redis cmds/req', 'other Redis clients', 'PG xacts/req', 'service VmHWM MB after'],
      detailRows,
    ),
  );
  out.push('');

  if (m.loginTiming?.length) {
    out.push('## Login timing: existing vs non-existent user (sequential, one request at a time)');
    out.push('');
    out.push(table(['login attempt', 'status', 'median ms', 'p90 ms', 'n'], m.loginTiming.map((t) => [t.label, String(t.status), fmt(t.medianMs, 1), fmt(t.p90Ms, 1), String(t.n)])));
    out.push('');
  }

  const failures = allRows.flatMap((s) => s.chainFailures);
  if (failures.length) {
    out.push('## Broken refresh chains');
    out.push('');
    for (const f of failures.slice(0, 10)) out.push(`- connection ${f.connection}: ${f.status} ${f.body}`);
    out.push('');
  }

  out.push('## How this was measured');
  out.push('');
  for (const line of m.notes) out.push(`- ${line}`);
  out.push('');

  return { markdown: out.join('\n'), checks, routeStats };
}
