/**
 * Turns the measurements of bench/run.js into the printed (and saved) Markdown report, and evaluates
 * the targets of the benchmark issue.
 */

/** The measured routes, their floors and their targets (ratio of the floor's req/s, same run). */
export const ROUTES = [
  { key: 'me', label: 'GET /api/me/', floorKey: 'floor', target: 0.7 },
  { key: 'verify', label: 'POST /api/token/verify/', floorKey: 'floor', target: 0.85 },
  { key: 'refresh', label: 'POST /api/token/refresh/', floorKey: 'refreshFloor', target: 0.85 },
  { key: 'login', label: 'POST /api/token/', floorKey: 'loginFloor', target: 0.9 },
];

export const FLOORS = {
  floor: { label: 'floor: Fastify + HS256 verify + 1 Redis MGET', short: 'HS256 + MGET' },
  refreshFloor: { label: 'floor: HS256 verify + 1 PG upsert + 2 HS256 signs', short: 'HS256 + PG upsert + 2 signs' },
  loginFloor: { label: 'floor: argon2id verify + 1 Redis SET + 2 HS256 signs', short: 'argon2id + SET + 2 signs' },
};

export const TARGETS = {
  peakRssMb: 200, // web process peak RSS
  meRedisPerRequest: 2, // 1 revocation MGET (+ 1 response-cache GET at most)
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
 * @param m.results      [{ key, connections, run, summary, redis, pgTrips }] for routes and floors
 * @param m.loginTiming  [{ label, status, medianMs, n }]
 * @param m.memory       { peakMb, currentMb, marks }
 * @param m.settings     printed in the header
 * @param m.notes        extra lines for the notes section
 */
export function buildReport(m) {
  const series = m.settings.connectionSeries;
  const runs = [...new Set(m.results.map((r) => r.run))].sort((a, b) => a - b);
  const of = (key, connections) => m.results.filter((r) => r.key === key && r.connections === connections).sort((a, b) => a.run - b.run);
  const find = (key, connections, run) => m.results.find((r) => r.key === key && r.connections === connections && r.run === run);

  /** Median figures of one route (or floor) at one connection count. */
  const statsOf = (key, connections, floorKey) => {
    const rows = of(key, connections);
    const requests = sum(rows.map((r) => r.summary.sent));
    const ratios = floorKey ? runs.map((run) => {
      const mine = find(key, connections, run);
      const floor = find(floorKey, connections, run);
      return mine && floor ? mine.summary.rps / floor.summary.rps : NaN;
    }) : [];
    return {
      rows,
      ratios,
      medianRatio: median(ratios),
      rps: median(rows.map((r) => r.summary.rps)),
      p50: median(rows.map((r) => r.summary.latency.p50)),
      p99: median(rows.map((r) => r.summary.latency.p99)),
      errors: sum(rows.map((r) => r.summary.errors + r.summary.timeouts)),
      non2xx: sum(rows.map((r) => r.summary.non2xx)),
      requests,
      redisPerRequest: sum(rows.map((r) => r.redis.total)) / requests,
      redisCommands: mergeCommands(rows.map((r) => r.redis.byCommand)),
      pgPerRequest: sum(rows.map((r) => r.pgTrips)) / requests,
      chainFailures: rows.flatMap((r) => r.summary.chainFailures ?? []),
    };
  };

  const out = [];
  out.push(`# Auth service benchmark — ${m.settings.when}`);
  out.push('');
  out.push(
    `${m.settings.runs} runs × ${m.settings.duration} s per measurement, at ${series.join(' and ')} connections ` +
      `(login: ${m.settings.loginConnections ?? 'the same'}), ${m.settings.cpus} CPUs, Node ${m.settings.node}, ` +
      `UV_THREADPOOL_SIZE=${m.settings.threadpool} (service and floors), stored hashes \`${m.settings.argon2}\`, ${m.settings.users} users.`,
  );
  out.push('');

  const checks = [];
  const check = (name, pass, detail) => checks.push({ name, pass, detail });
  const allStats = [];
  out.push('## Summary (medians of the runs; ratio = route req/s ÷ its floor\'s req/s in the same run)');
  out.push('');
  const summaryRows = [];
  for (const connections of series) {
    for (const route of ROUTES) {
      const s = statsOf(route.key, connections, route.floorKey);
      const f = statsOf(route.floorKey, connections);
      allStats.push(s, f);
      summaryRows.push([
        String(connections),
        route.label,
        fmt(s.rps),
        FLOORS[route.floorKey].short,
        fmt(f.rps),
        `**${fmt(s.medianRatio, 2)}**`,
        String(route.target),
        s.ratios.map((r) => fmt(r, 2)).join(' / '),
        fmt(s.p99, 1),
        `${fmt(s.redisPerRequest, 2)} (${redisBreakdown(s.redisCommands, s.requests)})`,
        fmt(s.pgPerRequest, 3),
        `${fmt(f.redisPerRequest, 2)} / ${fmt(f.pgPerRequest, 2)}`,
        String(s.errors + s.non2xx),
      ]);
      check(
        `${route.label} at ${connections} connections ≥ ${route.target} × floor`,
        s.medianRatio >= route.target,
        `median ratio ${fmt(s.medianRatio, 2)} (${s.ratios.map((r) => fmt(r, 2)).join(', ')}): ${fmt(s.rps)} vs ${fmt(f.rps)} req/s`,
      );
      if (route.key === 'me') {
        check(
          `GET /api/me/ at ${connections} connections ≤ ${TARGETS.meRedisPerRequest} Redis commands per request`,
          s.redisPerRequest <= TARGETS.meRedisPerRequest + TARGETS.redisSlack,
          `${fmt(s.redisPerRequest, 3)} (${redisBreakdown(s.redisCommands, s.requests)}; allowance +${TARGETS.redisSlack} for cache refills and other clients)`,
        );
        check(`GET /api/me/ at ${connections} connections ~0 PostgreSQL round trips per request (≤ ${TARGETS.mePgPerRequest})`, s.pgPerRequest <= TARGETS.mePgPerRequest, `${fmt(s.pgPerRequest, 4)} per request`);
      }
    }
  }
  out.push(
    table(['conns', 'route', 'req/s', 'floor', 'floor req/s', 'ratio (median)', 'target', 'ratios per run', 'p99 ms', 'Redis cmds/req', 'PG round trips/req', 'floor Redis / PG per req', 'errors + non-2xx'], summaryRows),
  );
  out.push('');

  check(
    `peak RSS of the web process ≤ ${TARGETS.peakRssMb} MB`,
    m.memory.peakMb <= TARGETS.peakRssMb,
    `VmHWM ${fmt(m.memory.peakMb, 1)} MB; by stage: ${(m.memory.marks ?? []).map((k) => `${k.stage} ${fmt(k.peakMb, 0)}`).join(', ')} (VmRSS at the end ${fmt(m.memory.currentMb, 0)} MB)`,
  );
  const totalErrors = sum(allStats.map((s) => s.errors));
  const totalNon2xx = sum(allStats.map((s) => s.non2xx));
  check('every route and floor: 0 errors and 0 non-2xx', totalErrors === 0 && totalNon2xx === 0, `errors ${totalErrors}, non-2xx ${totalNon2xx}`);

  out.push('## Targets');
  out.push('');
  out.push(table(['target', 'result', 'measured'], checks.map((c) => [c.name, c.pass ? '**PASS**' : '**FAIL**', c.detail])));
  out.push('');

  // Per-run detail, in the order the measurements ran.
  out.push('## Every measurement');
  out.push('');
  const detailRows = m.results.map((r) => {
    const route = ROUTES.find((x) => x.key === r.key);
    const label = route ? route.label : FLOORS[r.key].label;
    const floorRow = route ? find(route.floorKey, r.connections, r.run) : undefined;
    return [
      String(r.connections),
      String(r.run),
      label,
      fmt(r.summary.rps),
      floorRow ? fmt(r.summary.rps / floorRow.summary.rps, 2) : '—',
      String(r.summary.requests),
      fmt(r.summary.latency.p50, 1),
      fmt(r.summary.latency.p99, 1),
      String(r.summary.errors + r.summary.timeouts),
      String(r.summary.non2xx),
      `${fmt(r.redis.total / r.summary.sent, 2)} (${redisBreakdown(r.redis.byCommand, r.summary.sent)})`,
      String(r.redis.otherClients),
      fmt(r.pgTrips / r.summary.sent, 3),
      r.serviceMemory ? fmt(r.serviceMemory.peakMb, 0) : '—',
    ];
  });
  out.push(
    table(
      ['conns', 'run', 'measurement', 'req/s', 'ratio', 'completed', 'p50 ms', 'p99 ms', 'errors', 'non-2xx', 'Redis cmds/req', 'other Redis clients', 'PG round trips/req', 'service VmHWM MB after'],
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

  const failures = allStats.flatMap((s) => s.chainFailures);
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

  return { markdown: out.join('\n'), checks };
}
