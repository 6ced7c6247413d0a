import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { RevocationRecords, type SessionRecordWrite } from './revocation-records.js';
import type { SessionRecord, UserStateRecord } from './revocation-store.service.js';

const SWEEP_INTERVAL_MS = 60_000;

/**
 * The revocation records in this process's memory: embedded mode (REDIS_URL unset, development and
 * test only, one instance — another instance would not see this one's records). The same
 * compare-and-set rules as the Redis scripts, and entries expire like Redis keys with a TTL.
 * PostgreSQL stays the truth: after a restart the map is empty and each first check reads there.
 */
@Injectable()
export class MemoryRevocationRecords extends RevocationRecords implements OnModuleDestroy {
  private readonly entries = new Map<string, { value: string; expiresAt: number }>();
  private readonly sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS).unref();

  /** `alsoRead` (the response cache entry) lives in the cache, not here: `also` stays undefined. */
  read(keys: string[], _alsoRead?: string): Promise<{ records: Array<string | null>; also?: string | null }> {
    return Promise.resolve({ records: keys.map((key) => this.get(key)) });
  }

  putUserState(key: string, value: string, version: number, ttlSeconds: number): Promise<void> {
    this.putUserStateNow(key, value, version, ttlSeconds);
    return Promise.resolve();
  }

  putSession(write: SessionRecordWrite): Promise<void> {
    this.putSessionNow(write);
    return Promise.resolve();
  }

  rewriteUser(userKey: string, userState: { value: string; version: number; ttlSeconds: number } | null, sessions: SessionRecordWrite[]): Promise<void> {
    if (userState) this.putUserStateNow(userKey, userState.value, userState.version, userState.ttlSeconds);
    else this.entries.delete(userKey);
    for (const session of sessions) this.putSessionNow(session);
    return Promise.resolve();
  }

  private putUserStateNow(key: string, value: string, version: number, ttlSeconds: number): void {
    const current = this.parse<UserStateRecord>(this.get(key));
    if (current && typeof current.n === 'number' && current.n > version) return;
    this.set(key, value, ttlSeconds);
  }

  private putSessionNow({ key, value, state, ttlSeconds }: SessionRecordWrite): void {
    if (state === 'active' && this.parse<SessionRecord>(this.get(key))?.s === 'revoked') return;
    this.set(key, value, ttlSeconds);
  }

  private get(key: string): string | null {
    const entry = this.entries.get(key);
    if (!entry) return null;
    if (entry.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return null;
    }
    return entry.value;
  }

  private set(key: string, value: string, ttlSeconds: number): void {
    this.entries.set(key, { value, expiresAt: Date.now() + ttlSeconds * 1000 });
  }

  private parse<T>(value: string | null): T | undefined {
    if (value === null) return undefined;
    try {
      return JSON.parse(value) as T;
    } catch {
      return undefined;
    }
  }

  /** Drops expired entries, so memory follows the live tokens rather than every token ever issued. */
  private sweep(): void {
    const now = Date.now();
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
  }

  onModuleDestroy(): void {
    clearInterval(this.sweeper);
  }
}
