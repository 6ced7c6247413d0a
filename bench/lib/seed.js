/**
 * Seeding through the service's own HTTP API (never behind its back): register users, log them in.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';

/** Runs `fn` over `items` with at most `limit` calls in flight; keeps the order of results. */
export async function mapLimit(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index], index);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export async function postJson(baseUrl, path, body) {
  const response = await fetch(`${baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text };
}

/**
 * Bench users. Passwords pass the Django-like validators: 12+ characters, not common, not numeric,
 * nothing like the username or the e-mail address.
 */
export function benchUsers(count) {
  const tag = randomBytes(3).toString('hex');
  return Array.from({ length: count }, (_, i) => ({
    username: `bench_${tag}_${i}`,
    email: `bench_${tag}_${i}@example.com`,
    password: `Zq8!mountain-lantern-${i}-${tag}`,
  }));
}

/** POST /api/register/ for every user (argon2 hashing: a few in parallel, like real sign-ups). */
export async function registerAll(baseUrl, users, concurrency = 4) {
  await mapLimit(users, concurrency, async (user) => {
    const { status, text } = await postJson(baseUrl, '/api/register/', user);
    if (status !== 201) throw new Error(`register ${user.username}: ${status} ${text}`);
  });
}

/** POST /api/token/ → { access, refresh } (one new session). */
export async function login(baseUrl, user) {
  const { status, json, text } = await postJson(baseUrl, '/api/token/', { username: user.username, password: user.password });
  if (status !== 200 || !json?.access || !json?.refresh) throw new Error(`login ${user.username}: ${status} ${text}`);
  return json;
}

/** `count` fresh sessions, spread round-robin over the users. */
export function loginMany(baseUrl, users, count, concurrency = 8) {
  return mapLimit(
    Array.from({ length: count }, (_, i) => users[i % users.length]),
    concurrency,
    (user) => login(baseUrl, user),
  );
}

/** Latency of one POST /api/token/ in ms, and its status. */
export async function timedLogin(baseUrl, username, password) {
  const began = performance.now();
  const { status } = await postJson(baseUrl, '/api/token/', { username, password });
  return { ms: performance.now() - began, status };
}
