const SWEEP_INTERVAL_MS = 60_000;

/**
 * String values whose entries expire like Redis keys with a TTL: the store of embedded mode's
 * in-memory Redis roles (REDIS_URL unset; one instance). An expired entry reads as missing at
 * once, and expired entries are swept on a write at most once a minute, so memory follows the live
 * entries rather than every entry ever written — without a timer to stop.
 */
export class ExpiringMap {
  private readonly entries = new Map<string, { value: string; expiresAt: number }>();
  private lastSweep = Date.now();

  get(key: string): string | null {
    const entry = this.entries.get(key);
    if (!entry) return null;
    if (entry.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return null;
    }
    return entry.value;
  }

  set(key: string, value: string, ttlSeconds: number): void {
    const now = Date.now();
    if (now - this.lastSweep >= SWEEP_INTERVAL_MS) this.sweep(now);
    this.entries.set(key, { value, expiresAt: now + ttlSeconds * 1000 });
  }

  delete(...keys: string[]): void {
    for (const key of keys) this.entries.delete(key);
  }

  /** Entries held, expired ones not yet swept included. */
  get size(): number {
    return this.entries.size;
  }

  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
  }
}
