import type { SessionRecord } from './revocation-store.service.js';

/** One session record to write (see RevocationRecords.putSession). */
export interface SessionRecordWrite {
  key: string;
  value: string;
  state: SessionRecord['s'];
  ttlSeconds: number;
}

/**
 * Where RevocationStore keeps its fast-path records (the JSON of UserStateRecord and SessionRecord).
 * PostgreSQL stays the truth: a record that is missing only sends a check to PostgreSQL.
 *
 * Two implementations, chosen in SessionModule: Redis (RedisRevocationRecords, every instance sees
 * the same records) and this process's memory (MemoryRevocationRecords, embedded mode: REDIS_URL
 * unset, one instance). Both keep the same compare-and-set rules: a user state record is not
 * replaced by one of a lower auth version, and a revoked session record is not set back to active.
 */
export abstract class RevocationRecords {
  /**
   * The records under `keys` (null where there is none), plus `alsoRead` — more keys of the same
   * user read in the same round trip (the response cache entry). `also` holds their values in
   * order; it is undefined when `alsoRead` is empty or this store cannot read those keys (the
   * caller then asks their owner itself).
   */
  /**
   * Calls `listener` whenever the store itself reports trouble that no command of this process may
   * have seen (a lost connection, a failing cluster node). Nothing to report by default.
   */
  onTrouble(listener: () => void): void {
    void listener;
  }

  abstract read(keys: readonly string[], alsoRead?: readonly string[]): Promise<{ records: Array<string | null>; also?: Array<string | null> }>;

  /** Writes a user state record unless the one in place has a higher auth version. */
  abstract putUserState(key: string, value: string, version: number, ttlSeconds: number): Promise<void>;

  /** Writes a session record, unless it says active and the one in place says revoked. */
  abstract putSession(write: SessionRecordWrite): Promise<void>;

  /**
   * Rewrites one user's records (same rules as the two puts); `userState` null deletes the user's
   * state record (the user is gone). Either everything is written or the call fails.
   */
  abstract rewriteUser(
    userKey: string,
    userState: { value: string; version: number; ttlSeconds: number } | null,
    sessions: SessionRecordWrite[],
  ): Promise<void>;
}
