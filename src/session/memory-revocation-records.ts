import { Injectable } from '@nestjs/common';
import { ExpiringMap } from '../common/memory/expiring-map.js';
import { RevocationRecords, type SessionRecordWrite } from './revocation-records.js';
import type { SessionRecord, UserStateRecord } from './revocation-store.service.js';

/**
 * The revocation records in this process's memory: embedded mode (REDIS_URL unset, development and
 * test only, one instance — another instance would not see this one's records). The same
 * compare-and-set rules as the Redis scripts, and entries expire like Redis keys with a TTL.
 * PostgreSQL stays the truth: after a restart the map is empty and each first check reads there.
 */
@Injectable()
export class MemoryRevocationRecords extends RevocationRecords {
  private readonly entries = new ExpiringMap();

  /** `alsoRead` (the response cache entry) lives in the cache, not here: `also` stays undefined. */
  read(keys: readonly string[], _alsoRead: readonly string[] = []): Promise<{ records: Array<string | null>; also?: Array<string | null> }> {
    return Promise.resolve({ records: keys.map((key) => this.entries.get(key)) });
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
    const current = this.parse<UserStateRecord>(this.entries.get(key));
    if (current && typeof current.n === 'number' && current.n > version) return;
    this.entries.set(key, value, ttlSeconds);
  }

  private putSessionNow({ key, value, state, ttlSeconds }: SessionRecordWrite): void {
    if (state === 'active' && this.parse<SessionRecord>(this.entries.get(key))?.s === 'revoked') return;
    this.entries.set(key, value, ttlSeconds);
  }

  private parse<T>(value: string | null): T | undefined {
    if (value === null) return undefined;
    try {
      return JSON.parse(value) as T;
    } catch {
      return undefined;
    }
  }
}
