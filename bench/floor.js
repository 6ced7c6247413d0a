/**
 * The floor: the least work an authenticated request to the service needs, on a bare Fastify server
 * (no Nest, no passport, no jsonwebtoken, no cache-manager).
 *
 * Per request it
 *   1. takes the bearer token (GET) or the `token` field of a JSON body (POST),
 *   2. verifies it as HS256 with node:crypto: HMAC-SHA256 over "<header>.<payload>" with a KeyObject
 *      built once at start-up, compared with timingSafeEqual; checks the header's alg, parses the
 *      claims and checks exp and token_type,
 *   3. makes ONE Redis round trip: an MGET of the same two keys the service's revocation check reads
 *      (RedisKeys.userState and RedisKeys.session in src/redis/redis-keys.ts, under the same prefix),
 *   4. decides revocation the way the service does (active user, cutoff, live session) and answers
 *      a small JSON body.
 *
 * The bench compares the service's requests/s to this server's on the same machine in the same run.
 *
 * Environment: FLOOR_PORT, JWT_SIGNING_KEY, REDIS_URL, REDIS_KEY_PREFIX (all set by bench/run.js).
 * Answers GET /health/ once it is connected to Redis.
 */
import { createHmac, createSecretKey, timingSafeEqual } from 'node:crypto';
import Fastify from 'fastify';
import { Redis } from 'ioredis';

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

app.get('/health/', async () => {
  await redis.ping();
  return { status: 'ok' };
});

async function shutdown() {
  await app.close().catch(() => undefined);
  redis.disconnect();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

await app.listen({ port, host: '127.0.0.1' });
