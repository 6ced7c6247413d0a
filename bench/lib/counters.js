/**
 * Hot-path work counters, read around each measured run.
 *
 * Redis: `INFO commandstats` (calls per command since the server started). The bench takes the
 * delta around a run and divides it by the requests autocannon completed. The shared Redis may have
 * other clients, so the delta is broken down per command: a stranger's traffic shows up as commands
 * the route does not send. The counter's own INFO calls are left out.
 *
 * PostgreSQL: `xact_commit + xact_rollback` of the bench database in pg_stat_database, minus its
 * `sessions` (every new connection runs one start-up transaction of its own, measured: a connection
 * that runs 10 statements adds 11). Every autocommit statement is one transaction; an explicit
 * transaction (BEGIN … COMMIT, e.g. TypeORM's save()) counts once however many statements it holds.
 * The counter is read from a connection to the `postgres` database, so reading it does not move it.
 *
 * PostgreSQL 15 flushes a backend's pending statistics at most once a second while it is busy and,
 * once it goes idle, only after up to 10 s (PGSTAT_IDLE_INTERVAL) — a plain read right after a run
 * misses up to the last second of it. A backend flushes everything when it exits, so settle()
 * terminates the service's connections to the bench database once they have all been idle for a
 * while (its pool reconnects on the next query, which costs a few milliseconds once per pooled
 * connection) and waits for the counter to stop moving. selfTest() checks the whole method against a known number of statements.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
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

export class PgTransactionCounter {
  /**
   * @param adminUrl  a URL of the `postgres` database on the same server (the counter reads from there)
   * @param database  the bench database
   */
  constructor(adminUrl, database) {
    this.client = new pg.Client({ connectionString: adminUrl, application_name: 'bench-counter' });
    this.database = database;
  }

  async connect() {
    await this.client.connect();
  }

  /**
   * Transactions committed or rolled back in the bench database as flushed so far, minus one
   * start-up transaction per connection opened: the transactions the clients' statements made.
   */
  async read() {
    // Each autocommit query is its own transaction, so the stats snapshot is never stale; clear it anyway.
    await this.client.query('SELECT pg_stat_clear_snapshot()');
    const { rows } = await this.client.query(
      'SELECT (xact_commit + xact_rollback - sessions)::bigint AS n FROM pg_stat_database WHERE datname = $1',
      [this.database],
    );
    return Number(rows[0]?.n ?? 0);
  }

  /**
   * Makes every pending statistic of the service's connections visible, then reads the counter.
   * A backend flushes its stats when it exits, so this terminates the bench database's backends —
   * but only once the service is quiet: every one of them idle (not in a query, not in a
   * transaction) for at least `quietMs`. Terminating a connection in use would fail a request (and
   * can crash the service: see the bench's report). The caller first waits for the requests still
   * in flight to finish (they may be in argon2, invisible here). Only the service and selfTest()
   * connect to the bench database. Returns the settled counter.
   */
  async settle({ quietMs = 300, timeoutMs = 15_000 } = {}) {
    const deadline = Date.now() + timeoutMs;
    let previous = -1;
    for (;;) {
      const { rows } = await this.client.query(
        `SELECT count(*)::int AS open,
                count(*) FILTER (WHERE state = 'idle' AND state_change < now() - make_interval(secs => $2))::int AS quiet
           FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
        [this.database, quietMs / 1000],
      );
      const { open, quiet } = rows[0];
      if (open > 0 && open === quiet) {
        // The condition is checked again, row by row, at the moment of terminating.
        await this.client.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE datname = $1 AND pid <> pg_backend_pid()
              AND state = 'idle' AND state_change < now() - make_interval(secs => $2)`,
          [this.database, quietMs / 1000],
        );
      }
      const current = await this.read();
      if (open === 0 && current === previous) return current;
      if (Date.now() > deadline) throw new Error(`PostgreSQL counter: the bench database's connections did not go quiet within ${timeoutMs} ms`);
      previous = open === 0 ? current : -1;
      await sleep(open === 0 ? 30 : 100);
    }
  }

  /**
   * Checks the method: runs `count` autocommit statements on a fresh connection to the bench
   * database, closes it (its stats flush on exit), and returns the counter's delta (should equal count).
   */
  async selfTest(benchUrl, count = 25) {
    const before = await this.settle();
    const probe = new pg.Client({ connectionString: benchUrl, application_name: 'bench-selftest' });
    await probe.connect();
    for (let i = 0; i < count; i++) await probe.query('SELECT 1');
    await probe.end();
    const after = await this.settle();
    return after - before;
  }

  async close() {
    await this.client.end().catch(() => undefined);
  }
}
