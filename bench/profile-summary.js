/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time aggregated by function + source
 * location, and by package (node_modules/<package>, the service's own dist/, Node internals).
 *
 *   node bench/profile-summary.js bench/results/CPU.<...>.cpuprofile [--top 30] [--from <µs> --to <µs>] [--requests <n>]
 *
 * --from/--to keep only the samples taken inside that window, in the profile's clock (microseconds of
 * CLOCK_MONOTONIC, the same clock as process.hrtime() in any process of the machine); bench/run.js
 * --profile passes the window of its load run so that start-up and seeding are left out.
 */
import { readFileSync } from 'node:fs';
import { argv } from 'node:process';
import { parseArgs } from 'node:util';

/** "node_modules/@nestjs/core/…" → "@nestjs/core"; dist/ → "service (dist/)"; node:… → "node internals". */
function packageOf(url) {
  if (!url) return '(native / V8)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = url.slice(nm + '/node_modules/'.length).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  if (url.startsWith('node:')) return 'node internals';
  if (url.includes('/dist/')) return 'service (dist/)';
  return url;
}

/** Shortens a file URL for display: keeps the part from node_modules/ or dist/ on. */
function shortUrl(url) {
  if (!url) return '';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + 1);
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return url.slice(dist + 1);
  return url.replace(/^file:\/\//, '');
}

/**
 * @returns {{ totalMs, busyMs, samples, functions: Array, packages: Array }}
 *   functions/packages sorted by self time; busyMs leaves out (idle).
 */
export function summariseProfile(path, { from, to } = {}) {
  const profile = JSON.parse(readFileSync(path, 'utf8'));
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfByNode = new Map();
  let time = profile.startTime;
  let samples = 0;
  // Sample i is charged the interval up to the next sample (DevTools does the same).
  for (let i = 0; i < profile.samples.length; i++) {
    time += profile.timeDeltas[i] ?? 0;
    const next = i + 1 < profile.samples.length ? time + (profile.timeDeltas[i + 1] ?? 0) : profile.endTime;
    if ((from !== undefined && time < from) || (to !== undefined && time > to)) continue;
    selfByNode.set(profile.samples[i], (selfByNode.get(profile.samples[i]) ?? 0) + Math.max(0, next - time));
    samples += 1;
  }

  const functions = new Map();
  const packages = new Map();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfByNode) {
    const frame = nodes.get(id).callFrame;
    const name = frame.functionName || '(anonymous)';
    totalUs += us;
    if (name === '(idle)') idleUs += us;
    const key = `${name}\u0000${frame.url}\u0000${frame.lineNumber}`;
    const entry = functions.get(key) ?? { name, location: frame.url ? `${shortUrl(frame.url)}:${frame.lineNumber + 1}` : '', package: packageOf(frame.url), us: 0 };
    entry.us += us;
    functions.set(key, entry);
    if (name !== '(idle)') {
      const pkg = name.startsWith('(') && !frame.url ? name : packageOf(frame.url);
      packages.set(pkg, (packages.get(pkg) ?? 0) + us);
    }
  }
  const busyUs = totalUs - idleUs;
  const byTime = (a, b) => b.us - a.us;
  return {
    totalMs: totalUs / 1000,
    busyMs: busyUs / 1000,
    samples,
    functions: [...functions.values()].filter((f) => f.name !== '(idle)').sort(byTime).map((f) => ({ ...f, ms: f.us / 1000, share: f.us / busyUs })),
    packages: [...packages.entries()].map(([name, us]) => ({ name, us, ms: us / 1000, share: us / busyUs })).sort(byTime),
  };
}

/** Markdown tables of a summary; with `requests`, also the self time per request in µs. */
export function formatSummary(summary, top = 30, requests = undefined) {
  const perRequest = (ms) => (requests ? ` ${((ms * 1000) / requests).toFixed(1)} |` : '');
  const perRequestHeader = requests ? [' µs/req |', ' ---: |'] : ['', ''];
  const lines = [];
  lines.push(
    `Busy CPU time of the main thread in the window: ${summary.busyMs.toFixed(0)} ms of ${summary.totalMs.toFixed(0)} ms ` +
      `(${summary.samples} samples)${requests ? `, ${requests} requests` : ''}; shares are of the busy time. ` +
      'Native socket writes (writeUtf8String, writev) include the kernel\'s loopback TCP work.',
  );
  lines.push('');
  lines.push(`| self ms |${perRequestHeader[0]} share | function | location | package |`);
  lines.push(`| ---: |${perRequestHeader[1]} ---: | --- | --- | --- |`);
  for (const f of summary.functions.slice(0, top)) {
    lines.push(`| ${f.ms.toFixed(1)} |${perRequest(f.ms)} ${(f.share * 100).toFixed(1)}% | ${f.name} | ${f.location} | ${f.package} |`);
  }
  lines.push('');
  lines.push(`| self ms |${perRequestHeader[0]} share | package |`);
  lines.push(`| ---: |${perRequestHeader[1]} ---: | --- |`);
  for (const p of summary.packages.slice(0, 25)) lines.push(`| ${p.ms.toFixed(1)} |${perRequest(p.ms)} ${(p.share * 100).toFixed(1)}% | ${p.name} |`);
  return lines.join('\n');
}

if (import.meta.url === `file://${argv[1]}`) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '30' }, from: { type: 'string' }, to: { type: 'string' }, requests: { type: 'string' } },
  });
  if (positionals.length !== 1) {
    console.error('usage: node bench/profile-summary.js <file.cpuprofile> [--top 30] [--from µs --to µs]');
    process.exit(2);
  }
  const window = { from: values.from ? Number(values.from) : undefined, to: values.to ? Number(values.to) : undefined };
  console.log(formatSummary(summariseProfile(positionals[0], window), Number(values.top), values.requests ? Number(values.requests) : undefined));
}
