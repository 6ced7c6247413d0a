/**
 * The load phase of `npm run test:topology`: autocannon in its own process (forked by the suite, so
 * the load generator's CPU is not mixed into the suite's event loop), driving what a front end does
 * through nginx: mostly GET /api/me/, a refresh now and then, a few logins.
 *
 * Receives one job message and answers { ok: true, summary } or { ok: false, error }:
 *   {
 *     url,               // nginx
 *     connections,       // concurrent keep-alive connections (pipelining 1), one session each
 *     durationSeconds,
 *     sessions,          // [{ username, password, access, refresh }], one per connection
 *     cycle,             // requests per cycle of one connection: the last is a login, `refreshEvery`-th a refresh
 *     refreshEvery,
 *   }
 * Every refresh and login carries an X-Forwarded-For address of its own (198.19.0.0/16): many users,
 * as the per-IP limit sees them (the web processes trust two hops: an edge proxy, then nginx).
 */
import autocannon from 'autocannon';

const JSON_HEADERS = { 'content-type': 'application/json' };

let address = 0;
const nextAddress = () => {
  address += 1;
  return `198.19.${(address >> 8) & 0xff}.${address & 0xff}`;
};

function setupFor(job, failures) {
  let next = 0;
  return (client) => {
    const index = next++;
    const session = job.sessions[index % job.sessions.length];
    const state = { access: session.access, refresh: session.refresh };
    const fail = (what, status, body) => {
      if (failures.length < 20) failures.push({ connection: index, what, status, body: String(body).slice(0, 200) });
    };
    const me = {
      method: 'GET',
      path: '/api/me/',
      setupRequest: (request) => ({ ...request, headers: { authorization: `Bearer ${state.access}` } }),
      onResponse: (status, body) => status !== 200 && fail('me', status, body),
    };
    const refresh = {
      method: 'POST',
      path: '/api/token/refresh/',
      setupRequest: (request) => ({
        ...request,
        headers: { ...JSON_HEADERS, 'x-forwarded-for': nextAddress() },
        body: JSON.stringify({ refresh: state.refresh }),
      }),
      onResponse: (status, body) => {
        if (status !== 200) return fail('refresh', status, body);
        const tokens = JSON.parse(body);
        Object.assign(state, { access: tokens.access, refresh: tokens.refresh });
      },
    };
    const login = {
      method: 'POST',
      path: '/api/token/',
      setupRequest: (request) => ({
        ...request,
        headers: { ...JSON_HEADERS, 'x-forwarded-for': nextAddress() },
        body: JSON.stringify({ username: session.username, password: session.password }),
      }),
      onResponse: (status, body) => {
        if (status !== 200) return fail('login', status, body);
        const tokens = JSON.parse(body);
        Object.assign(state, { access: tokens.access, refresh: tokens.refresh });
      },
    };
    const requests = [];
    for (let step = 1; step < job.cycle; step += 1) requests.push(step % job.refreshEvery === 0 ? refresh : me);
    requests.push(login);
    client.setRequests(requests);
  };
}

async function run(job) {
  const failures = [];
  const result = await autocannon({
    url: job.url,
    connections: job.connections,
    duration: job.durationSeconds,
    pipelining: 1,
    timeout: 10,
    setupClient: setupFor(job, failures),
  });
  return {
    requests: result.requests.total,
    seconds: result.duration,
    rps: result.requests.total / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, stat]) => [code, stat.count])),
    failures,
  };
}

process.once('message', (job) => {
  run(job)
    .then((summary) => process.send({ ok: true, summary }))
    .catch((error) => process.send({ ok: false, error: String(error?.stack ?? error) }))
    .finally(() => process.disconnect());
});
