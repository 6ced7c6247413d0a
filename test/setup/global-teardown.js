import { Redis } from 'ioredis';
import pg from 'pg';
import { ADMIN_DATABASE_URL, REDIS_URL } from './test-env.js';

/** Drops the run's database and deletes its Redis keys; the shared services keep running. */
export default async function globalTeardown() {
  const database = process.env.E2E_DATABASE;
  if (database) {
    const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${admin.escapeIdentifier(database)} WITH (FORCE)`);
    await admin.end();
  }
  const patterns = [process.env.REDIS_KEY_PREFIX, process.env.BULLMQ_PREFIX].filter(Boolean).map((prefix) => `${prefix}*`);
  if (patterns.length === 0) return;
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    for (const pattern of patterns) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        if (keys.length) await redis.del(...keys);
        cursor = next;
      } while (cursor !== '0');
    }
  } catch {
    // Redis may be down after a failed fault test; there is nothing to clean then.
  } finally {
    redis.disconnect();
  }
}
