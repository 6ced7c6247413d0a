/**
 * The load generator: autocannon in its own process (started once by bench/run.js with
 * child_process.fork and reused for every run), so that the client's CPU use is not mixed into the
 * orchestrator's event loop, and no run pays for starting a process and loading autocannon.
 *
 * Receives job messages, one at a time:
 *   {
 *     id,                  // echoed in the answer
 *     url,                 // e.g. http://127.0.0.1:40123
 *     method, path,        // the route
 *     connections,         // concurrent keep-alive connections (pipelining 1)
 *     durationSeconds,
 *     mode,                // 'static': each connection repeats one fixed request
 *                          // 'refresh-chain': each connection walks one session's refresh chain
 *     perConnection,       // static: [{ headers, body }]; connection i uses entry i % length
 *     chains,              // refresh-chain: one refresh token per connection (one session each)
 *   }
 * and answers each with { id, ok: true, summary } (see summarise()) or { id, ok: false, error }.
 */
import autocannon from 'autocannon';

const JSON_HEADERS = { 'content-type': 'application/json' };

/**
 * autocannon calls setupClient once per connection. Per-connection requests are installed with
 * client.setRequests(), which replaces that connection's request list for the whole run.
 * (autocannon's `context` is reset every time the request list wraps around, so it cannot carry
 * state from one response to the next request when the list has one entry: closures do that here.)
 */
function setupFor(job, chainFailures) {
  let next = 0;
  if (job.mode === 'static') {
    return (client) => {
      const spec = job.perConnection[next++ % job.perConnection.length];
      client.setRequests([{ method: job.method, path: job.path, headers: spec.headers ?? {}, body: spec.body }]);
    };
  }
  if (job.mode === 'refresh-chain') {
    return (client) => {
      // One session per connection: every request presents the refresh token the previous answer
      // returned, as a real client with rotation does. With pipelining 1 the chain is strictly sequential.
      const index = next++;
      if (index >= job.chains.length) throw new Error('refresh-chain: fewer chains than connections');
      const state = { refresh: job.chains[index], broken: false };
      client.setRequests([
        {
          method: 'POST',
          path: job.path,
          headers: JSON_HEADERS,
          setupRequest: (request) => ({ ...request, body: JSON.stringify({ refresh: state.refresh }) }),
          onResponse: (status, body) => {
            if (status === 200) {
              state.refresh = JSON.parse(body).refresh;
            } else if (!state.broken) {
              state.broken = true;
              chainFailures.push({ connection: index, status, body: String(body).slice(0, 200) });
            }
          },
        },
      ]);
    };
  }
  throw new Error(`unknown mode ${job.mode}`);
}

/** The numbers bench/run.js needs from autocannon's result. */
function summarise(result, chainFailures) {
  return {
    requests: result.requests.total, // completed responses, any status
    // Requests sent, including the one each connection still had in flight when the run stopped: the
    // server serves those too, so per-request work counters divide by this.
    sent: result.requests.sent,
    seconds: result.duration,
    rps: result.requests.total / result.duration,
    latency: { p50: result.latency.p50, p99: result.latency.p99, mean: result.latency.mean, max: result.latency.max },
    errors: result.errors, // connection errors (includes timeouts)
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, stat]) => [code, stat.count])),
    chainFailures,
  };
}

async function run(job) {
  const chainFailures = [];
  const result = await autocannon({
    url: job.url,
    method: job.method,
    connections: job.connections,
    duration: job.durationSeconds,
    pipelining: 1,
    timeout: 10,
    setupClient: setupFor(job, chainFailures),
  });
  return summarise(result, chainFailures);
}

process.on('message', (job) => {
  run(job)
    .then((summary) => process.send({ id: job.id, ok: true, summary }))
    .catch((error) => process.send({ id: job.id, ok: false, error: String(error?.stack ?? error) }));
});
// The orchestrator going away (disconnect) ends this process too.
process.on('disconnect', () => process.exit(0));
