/**
 * The login floor: the raw argon2id verify rate of the service's own parameters, on the same cores,
 * with the same libuv thread pool size (UV_THREADPOOL_SIZE is set in this process's environment by
 * bench/run.js, to the service's value), driven with enough concurrent verifies to keep every
 * thread-pool thread busy.
 *
 * Started with child_process.fork by bench/run.js; receives one message
 *   { durationSeconds, warmupSeconds, concurrency, options }
 * where `options` is the service's ARGON2_OPTIONS (run.js imports them from dist/ once, at start-up,
 * so a rebuild of dist/ during the bench cannot break this process), and answers with one message
 *   { ok: true, verifies, seconds, rps, latency: { p50, p99 }, threadpool, options }
 * then exits. Run alone: `node bench/argon2-floor.js [seconds] [concurrency]` prints the same JSON
 * (it then imports ARGON2_OPTIONS from dist/ itself).
 */
import { performance } from 'node:perf_hooks';
import { argv } from 'node:process';
import argon2 from 'argon2';

const PASSWORD = 'Zq8!mountain-lantern-floor';

/** Keeps `concurrency` verifies in flight until `seconds` have passed; returns counts and latencies. */
async function drive(hash, seconds, concurrency) {
  const latencies = [];
  const start = performance.now();
  const end = start + seconds * 1000;
  let verifies = 0;
  async function worker() {
    while (performance.now() < end) {
      const began = performance.now();
      const ok = await argon2.verify(hash, PASSWORD);
      if (!ok) throw new Error('argon2 floor: verify returned false');
      const finished = performance.now();
      // Count only verifies that completed inside the window (like autocannon's completed requests).
      if (finished <= end) {
        verifies += 1;
        latencies.push(finished - began);
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { verifies, seconds: (Math.min(performance.now(), end) - start) / 1000, latencies };
}

const percentile = (sorted, p) => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]);

async function measure({ durationSeconds, warmupSeconds = 0.5, concurrency, options }) {
  const hash = await argon2.hash(PASSWORD, options);
  if (warmupSeconds > 0) await drive(hash, warmupSeconds, concurrency); // spins up the thread pool, touches the memory
  const { verifies, seconds, latencies } = await drive(hash, durationSeconds, concurrency);
  latencies.sort((a, b) => a - b);
  return {
    ok: true,
    verifies,
    seconds,
    rps: verifies / seconds,
    latency: { p50: percentile(latencies, 50), p99: percentile(latencies, 99) },
    threadpool: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
    // Read back from the hash itself: proves which parameters were verified.
    options: { phc: hash.split('$').slice(1, 4).join('$'), memoryCost: options.memoryCost, timeCost: options.timeCost, parallelism: options.parallelism },
  };
}

if (process.send) {
  process.once('message', (message) => {
    measure(message)
      .then((result) => process.send(result, () => process.exit(0)))
      .catch((error) => process.send({ ok: false, error: String(error?.stack ?? error) }, () => process.exit(1)));
  });
} else {
  const { ARGON2_OPTIONS } = await import('../dist/users/password/password-hasher.service.js');
  const result = await measure({ durationSeconds: Number(argv[2] ?? 5), concurrency: Number(argv[3] ?? 16), options: ARGON2_OPTIONS });
  console.log(JSON.stringify(result, null, 2));
}
