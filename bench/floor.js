/**
 * The floors: the least work each measured route of the service needs, on a bare Fastify server
 * (no Nest, no passport, no jsonwebtoken, no cache-manager, no TypeORM).
 *
 * GET /api/me/ and POST /api/token/verify/ — per request it
 *   1. takes the bearer token (GET) or the `token` field of a JSON body (POST),
 *   2. verifies it as HS256 with node:crypto: HMAC-SHA256 over "<header>.<payload>" with a KeyObject
 *      built once at start-up, compared with timingSafeEqual; checks the header's alg, parses the
 *      claims and checks exp and token_type,
 *   3. makes ONE Redis round trip: an MGET of the same two keys the service's revocation check reads
 *      (RedisKeys.userState and RedisKeys.session in src/redis/redis-keys.ts, under the same prefix),
 *   4. decides revocation the way the service does (active user, cutoff, live session) and answers
 *      a small JSON body.
 *
 * POST /api/token/refresh/ — the least work a rotation needs: verify the refresh token (HS256,
 * node:crypto), ONE PostgreSQL write (an upsert of the session's current refresh jti, conditional on
 * the presented one, in a table of the floor's own), and two HS256 signs (access + refresh).
 *
 * POST /api/token/ — argon2id verify of the user's stored hash (the service's own hashes, loaded once
 * by POST /floor/load-users/ from the bench database's users table, so the parameters are the
 * service's), ONE Redis round trip (SET of a session record) and two HS256 signs.
 *
 * The bench compares the service's requests/s to this server's on the same machine in the same run.
 *
 * Environment: FLOOR_PORT, JWT_SIGNING_KEY, REDIS_URL, REDIS_KEY_PREFIX, DATABASE_URL (all set by
 * bench/run.js; UV_THREADPOOL_SIZE as the service's). Answers GET /health/ once it is connected to
 * Redis and PostgreSQL.
 */
import { createHmac, createSecretKey, randomUUID, timingSafeEqual } from 'node:crypto';
import argon2 from 'argon2';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import pg from 'pg';

const port = Number(process.env.FLOOR_PORT ?? 0);
const signingKey = process.env.JWT_SIGNING_KEY;
if (!signingKey) throw new Error('floor: JWT_SIGNING_KEY is required');

/** Built once: hashing with a KeyObject skips re-importing the secret on every request. */
const key = createSecretKey(Buffer.from(signingKey, 'utf8'));

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0', {
  keyPrefix: process.env.REDIS_KEY_PREFIX ?? '',
  connectionName: 'bench-floor',
  enableOfflineQueue: false,
});

/** The service's pool size default (DATABASE_POOL_SIZE), so the write path has the same parallelism. */
const db = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10, application_name: 'bench-floor' });
const ACCESS_SECONDS = 300;
const REFRESH_SECONDS = 86_400;

/** Same layout as src/redis/redis-keys.ts (the client adds the prefix). */
const userStateKey = (userId) => `ustate:{${userId}}`;
const sessionKey = (userId, sessionId) => `sess:{${userId}}:${sessionId}`;

class Unauthorized extends Error {}

/** HS256 verification with node:crypto only. Returns the claims or throws Unauthorized. */
function verifyHs256(token, expectedType) {
  if (typeof token !== 'string') throw new Unauthorized('no token');
  const firstDot = token.indexOf('.');
  const secondDot = token.indexOf('.', firstDot + 1);
  if (firstDot < 0 || secondDot < 0 || token.indexOf('.', secondDot + 1) >= 0) throw new Unauthorized('malformed');

  const signature = Buffer.from(token.slice(secondDot + 1), 'base64url');
  const expected = createHmac('sha256', key).update(token.slice(0, secondDot)).digest();
  if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) throw new Unauthorized('bad signature');

  const header = JSON.parse(Buffer.from(token.slice(0, firstDot), 'base64url').toString('utf8'));
  if (header.alg !== 'HS256') throw new Unauthorized('algorithm');
  const claims = JSON.parse(Buffer.from(token.slice(firstDot + 1, secondDot), 'base64url').toString('utf8'));
  if (typeof claims.exp !== 'number' || claims.exp * 1000 <= Date.now()) throw new Unauthorized('expired');
  if (expectedType && claims.token_type !== expectedType) throw new Unauthorized('wrong type');
  if (!Number.isSafeInteger(claims.user_id)) throw new Unauthorized('claims');
  return claims;
}

const HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
/** HS256 sign with node:crypto. */
function signHs256(claims) {
  const input = `${HEADER}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
}

/** An access and a refresh token for one session, claims shaped like the service's. */
function tokenPair(userId, sessionId) {
  const now = Math.floor(Date.now() / 1000);
  const jti = randomUUID().replaceAll('-', '');
  return {
    jti,
    access: signHs256({ token_type: 'access', exp: now + ACCESS_SECONDS, iat: now, jti: randomUUID().replaceAll('-', ''), user_id: userId, sid: sessionId }),
    refresh: signHs256({ token_type: 'refresh', exp: now + REFRESH_SECONDS, iat: now, jti, user_id: userId, sid: sessionId }),
  };
}

/** One MGET, then the same decision as RevocationStore.decide(). */
async function assertNotRevoked(claims) {
  const keys = claims.sid ? [userStateKey(claims.user_id), sessionKey(claims.user_id, claims.sid)] : [userStateKey(claims.user_id)];
  const values = await redis.mget(...keys);
  // The service falls back to PostgreSQL on a miss; the bench seeds every record, so a miss is a bench bug.
  if (values.some((value) => value === null)) throw new Error('floor: revocation record missing in Redis');
  const user = JSON.parse(values[0]);
  const session = claims.sid ? JSON.parse(values[1]) : null;
  if (!user.a || claims.iat < user.c) throw new Unauthorized('revoked');
  if (session && (session.s !== 'active' || session.e * 1000 < Date.now())) throw new Unauthorized('revoked');
}

const app = Fastify({ logger: false, keepAliveTimeout: 65_000 });

app.setErrorHandler((error, _request, reply) => {
  if (error instanceof Unauthorized) return reply.code(401).send({ detail: 'Token is invalid or expired', code: 'token_not_valid' });
  return reply.code(500).send({ detail: error.message });
});

/** Counterpart of GET /api/me/: bearer token, revocation check, small JSON answer. */
app.get('/api/me/', async (request) => {
  const header = request.headers.authorization;
  const token = typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7) : undefined;
  const claims = verifyHs256(token, 'access');
  await assertNotRevoked(claims);
  return { id: claims.user_id };
});

/** Counterpart of POST /api/token/verify/: token in the JSON body. */
app.post('/api/token/verify/', async (request) => {
  const claims = verifyHs256(request.body?.token);
  await assertNotRevoked(claims);
  return {};
});

/**
 * Counterpart of POST /api/token/refresh/: verify, one conditional upsert (the chain's current jti
 * moves from the presented one to the new one; a stale jti updates nothing → 401), two signs.
 */
app.post('/api/token/refresh/', async (request) => {
  const claims = verifyHs256(request.body?.refresh, 'refresh');
  const pair = tokenPair(claims.user_id, claims.sid);
  const { rowCount } = await db.query(
    `INSERT INTO bench_floor_refresh (sid, user_id, jti) VALUES ($1, $2, $3)
     ON CONFLICT (sid) DO UPDATE SET jti = EXCLUDED.jti, rotated_at = now() WHERE bench_floor_refresh.jti = $4`,
    [claims.sid, claims.user_id, pair.jti, claims.jti],
  );
  // The first rotation of a chain inserts; later ones must find the presented jti current.
  if (rowCount !== 1) throw new Unauthorized('refresh token already used');
  return { access: pair.access, refresh: pair.refresh };
});

/** username → { id, hash }: the service's own argon2id hashes (POST /floor/load-users/). */
const users = new Map();

/** Counterpart of POST /api/token/: argon2id verify, one Redis round trip, two signs. */
app.post('/api/token/', async (request) => {
  const user = users.get(request.body?.username);
  if (!user || typeof request.body.password !== 'string' || !(await argon2.verify(user.hash, request.body.password))) {
    throw new Unauthorized('no active account');
  }
  const sessionId = randomUUID();
  const pair = tokenPair(user.id, sessionId);
  await redis.set(`floorsess:{${user.id}}:${sessionId}`, '{"s":"active"}', 'EX', REFRESH_SECONDS);
  return { refresh: pair.refresh, access: pair.access };
});

/** Loads the seeded users' hashes, once seeding is done; creates the refresh floor's table. */
app.post('/floor/load-users/', async () => {
  await db.query('CREATE TABLE IF NOT EXISTS bench_floor_refresh (sid text PRIMARY KEY, user_id integer NOT NULL, jti text NOT NULL, rotated_at timestamptz NOT NULL DEFAULT now())');
  const { rows } = await db.query('SELECT id, username, password FROM users');
  for (const row of rows) users.set(row.username, { id: row.id, hash: row.password });
  // The parameters of the stored hashes (e.g. argon2id$v=19$m=19456,t=2,p=1), for the report.
  const phc = rows.length ? rows[0].password.split('$').slice(1, 4).join('$') : undefined;
  return { users: users.size, phc };
});

/** `count` refresh-chain heads signed by the floor (new sessions of the loaded users). */
app.post('/floor/chains/', async (request) => {
  const ids = [...users.values()].map((user) => user.id);
  const count = Number(request.body?.count ?? 0);
  return { chains: Array.from({ length: count }, (_, i) => tokenPair(ids[i % ids.length], randomUUID()).refresh) };
});

app.get('/health/', async () => {
  await Promise.all([redis.ping(), db.query('SELECT 1')]);
  return { status: 'ok' };
});

async function shutdown() {
  await app.close().catch(() => undefined);
  redis.disconnect();
  await db.end().catch(() => undefined);
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

await app.listen({ port, host: '127.0.0.1' });
