/**
 * Hot-path work counters, read around each measured run.
 *
 * Redis: `INFO commandstats` (calls per command since the server started). The bench takes the
 * delta around a run and divides it by the requests autocannon completed. The shared Redis may have
 * other clients, so the delta is broken down per command: a stranger's traffic shows up as commands
 * the route does not send. The counter's own INFO calls are left out.
 *
 * PostgreSQL round trips are counted on the wire by lib/pg-proxy.js.
 */
import { Redis } from 'ioredis';

export class RedisCommandCounter {
  constructor(url) {
    this.redis = new Redis(url, { connectionName: 'bench-counter', lazyConnect: true });
  }

  async connect() {
    await this.redis.connect();
  }

  /** { command: calls } for every command Redis has served. */
  async snapshot() {
    const text = await this.redis.info('commandstats');
    const calls = {};
    for (const line of text.split('\n')) {
      const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
      if (match) calls[match[1]] = Number(match[2]);
    }
    return calls;
  }

  /** Commands served between two snapshots, without this counter's own INFO calls. */
  static delta(before, after) {
    const byCommand = {};
    let total = 0;
    for (const [command, calls] of Object.entries(after)) {
      if (command === 'info') continue;
      const diff = calls - (before[command] ?? 0);
      if (diff > 0) {
        byCommand[command] = diff;
        total += diff;
      }
    }
    return { total, byCommand };
  }

  /** Other clients connected to the shared Redis (not the service, the floor, or this counter). */
  async strangers(ownNames) {
    const list = await this.redis.client('LIST');
    return String(list)
      .split('\n')
      .filter(Boolean)
      .filter((line) => !ownNames.some((name) => line.includes(` name=${name} `))).length;
  }

  /** SCAN + UNLINK of every key under the bench's prefix. Returns how many were removed. */
  async deletePrefix(prefix) {
    let cursor = '0';
    let removed = 0;
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) removed += await this.redis.unlink(...keys);
    } while (cursor !== '0');
    return removed;
  }

  async close() {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
