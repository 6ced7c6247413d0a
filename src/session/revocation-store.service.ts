import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { epochSeconds, nowSeconds } from '../common/time.js';
import { authConfig } from '../config/auth.config.js';
import { Metrics } from '../metrics/metrics.js';
import { RedisKeys } from '../redis/redis-keys.js';
import type { UserAuthState } from '../users/user.entity.js';
import { UsersService } from '../users/users.service.js';
import { SessionRepository, type SessionSnapshot } from './persistence/session.repository.js';
import { RevocationRecords } from './revocation-records.js';

/** Redis mirror of a session row. Short field names: this is read on every authenticated request. */
export interface SessionRecord {
  /** state */
  s: 'active' | 'revoked';
  /** created, epoch seconds */
  c: number;
  /** last seen (last login or refresh), epoch seconds */
  l: number;
  /** session (head refresh token) expiry, epoch seconds */
  e: number;
  ip: string | null;
  ua: string | null;
  /** when this record was written from PostgreSQL's truth, epoch seconds (see `recheckSeconds`) */
  v: number;
}

/** Redis mirror of the user-wide auth state. */
export interface UserStateRecord {
  /** is_active */
  a: boolean;
  /**
   * Cutoff (epoch seconds, rounded down; 0 when never set): tokens without a session (issued by the
   * Django system) with an `iat` up to and including it are dead — a token of the cutoff's own second
   * too, since `iat` has no finer grain. Tokens with a session are governed by their session record.
   */
  c: number;
  /** users.auth_version: a record is never replaced by one of a lower version */
  n: number;
  /** when this record was written, epoch seconds */
  v: number;
}

export type RevocationVerdict = 'ok' | 'revoked' | 'user_inactive' | 'user_not_found';

export type { SessionSnapshot };
/** What a user state record is made of. */
export type UserSnapshot = UserAuthState;

const RECONCILE_INTERVAL_MS = 1000;
/**
 * After this process sees Redis fail (a command, a node), it reads revocation records from
 * PostgreSQL — and rewrites them in Redis — for this long, even when Redis answers again. A Redis
 * failover can leave the promoted node with a record older than a revocation another instance made
 * while the old master was dead (that write failed there and is only resynced by that instance, every
 * RECONCILE_INTERVAL_MS): no instance may trust such a record before the resync has had time to land.
 */
const DISTRUST_AFTER_REDIS_ERROR_MS = 5 * RECONCILE_INTERVAL_MS;
const RECONCILE_MAX_SESSIONS = 1000;

function sessionRecordOf(session: SessionSnapshot): SessionRecord {
  return {
    s: session.revokedAt ? 'revoked' : 'active',
    c: epochSeconds(session.createdAt),
    l: epochSeconds(session.lastSeenAt),
    e: epochSeconds(session.expiresAt),
    ip: session.ip,
    ua: session.userAgent,
    v: nowSeconds(),
  };
}

function userStateOf(user: UserSnapshot): UserStateRecord {
  return {
    a: user.isActive,
    c: user.tokensValidAfter ? epochSeconds(user.tokensValidAfter) : 0,
    n: user.authVersion,
    v: nowSeconds(),
  };
}

/**
 * The revocation check of the hot path and its Redis mirror.
 *
 * Redis holds positive records: a session record (active or revoked) and a user state record, both
 * under the user's hash tag so one MGET reads them on Redis Cluster too. A missing record never
 * means "not revoked": it sends the check to PostgreSQL (the truth), which then rebuilds the record.
 * So a FLUSHALL or an empty restart cannot resurrect a revoked token, and a Redis outage turns into
 * PostgreSQL reads rather than errors.
 *
 * Writes are compare-and-sets (Lua in Redis, the same rules in memory: see RevocationRecords): a user state record never gives way to one of a lower auth
 * version, and a revoked session record never to an active one. A request that read the user or its
 * session before a credential change and writes after it cannot put the old state back.
 *
 * A write that Redis did not take (down, hung past the command timeout, out of memory, paused for
 * writes) may leave a stale record — "active" for a session PostgreSQL says is revoked. Two guards:
 * this instance checks such a user in PostgreSQL only and rewrites the user's records every second
 * until Redis takes them; and every record is trusted for `recheckSeconds` at most (other
 * instances do not know of the failed write), after which PostgreSQL is asked again.
 */
@Injectable()
export class RevocationStore implements OnModuleDestroy {
  private readonly logger = new Logger(RevocationStore.name);
  private readonly unsynced = new Set<number>();
  /** Until when (epoch ms) Redis's records are checked against PostgreSQL (see DISTRUST_AFTER_REDIS_ERROR_MS). */
  private distrustUntil = 0;
  private reconcileTimer: NodeJS.Timeout | undefined;

  constructor(
    /** Redis, or this process's memory in embedded mode (see SessionModule). */
    private readonly records: RevocationRecords,
    private readonly users: UsersService,
    private readonly sessions: SessionRepository,
    @Inject(authConfig.KEY) private readonly auth: ConfigType<typeof authConfig>,
    private readonly metrics: Metrics,
  ) {
    // A connection lost or a cluster node failing (even one this process had no command on): the
    // records' freshness is in doubt until the other instances' resyncs have landed.
    records.onTrouble(() => this.noteRedisTrouble());
  }

  /** One Redis round trip while Redis is healthy and holds fresh records; PostgreSQL otherwise. */
  async check(userId: number, sessionId: string | null, issuedAt: number): Promise<RevocationVerdict> {
    return (await this.checkAndRead(userId, sessionId, issuedAt)).verdict;
  }

  /**
   * The check, plus `alsoRead`: more keys of the same user read in the same MGET (e.g. the user's
   * response-cache entry). They must carry the `{<user id>}` hash tag, so the MGET stays on one
   * Redis Cluster slot. `also` holds their values in order, or is undefined when Redis did not answer
   * or in embedded mode without Redis (the records are in memory, the caches elsewhere: ask them).
   */
  async checkAndRead(
    userId: number,
    sessionId: string | null,
    issuedAt: number,
    alsoRead: readonly string[] = [],
  ): Promise<{ verdict: RevocationVerdict; also?: Array<string | null> }> {
    if (this.unsynced.has(userId)) {
      this.metrics.redisFallback();
      return { verdict: await this.checkInDatabase(userId, sessionId, issuedAt, false) };
    }
    const keys = sessionId ? [RedisKeys.userState(userId), RedisKeys.session(userId, sessionId)] : [RedisKeys.userState(userId)];
    let values: Array<string | null> | undefined;
    let also: Array<string | null> | undefined;
    try {
      ({ records: values, also } = await this.records.read(keys, alsoRead));
    } catch {
      values = undefined;
      this.noteRedisTrouble();
      this.metrics.redisFallback();
    }
    if (values && Date.now() < this.distrustUntil) {
      // Redis is back after trouble: its records may predate a revocation; PostgreSQL decides and rewrites them.
      this.metrics.redisFallback();
      return { verdict: await this.checkInDatabase(userId, sessionId, issuedAt, true), also };
    }
    const userValue = values?.[0];
    const sessionValue = sessionId ? values?.[1] : undefined;
    if (userValue && (!sessionId || sessionValue)) {
      const user = JSON.parse(userValue) as UserStateRecord;
      const session = sessionValue ? (JSON.parse(sessionValue) as SessionRecord) : null;
      const oldest = nowSeconds() - this.auth.revocationRecheckSeconds;
      if (user.v >= oldest && (!session || session.v >= oldest)) return { verdict: this.decide(user, session, sessionId, issuedAt), also };
    }
    return { verdict: await this.checkInDatabase(userId, sessionId, issuedAt, values !== undefined), also };
  }

  private decide(
    user: UserStateRecord,
    session: SessionRecord | null,
    sessionId: string | null,
    issuedAt: number,
  ): RevocationVerdict {
    if (!user.a) return 'user_inactive';
    if (!sessionId && issuedAt <= user.c) return 'revoked';
    if (sessionId && (!session || session.s !== 'active' || session.e * 1000 < Date.now())) return 'revoked';
    return 'ok';
  }

  private async checkInDatabase(
    userId: number,
    sessionId: string | null,
    issuedAt: number,
    redisAnswered: boolean,
  ): Promise<RevocationVerdict> {
    // Each table from its owner, both on the primary, at once.
    const [state, snapshot] = await Promise.all([
      this.users.findAuthState(userId),
      sessionId ? this.sessions.findSnapshot(userId, sessionId) : null,
    ]);
    if (!state) return 'user_not_found';
    const user = userStateOf(state);
    const session = snapshot ? sessionRecordOf(snapshot) : null;
    if (redisAnswered) {
      // Rebuild the Redis view (it was flushed, restarted empty, expired, or due for a recheck).
      await Promise.all([
        this.writeUserState(userId, user),
        session && sessionId ? this.writeSession(userId, sessionId, session) : undefined,
      ]);
    }
    return this.decide(user, session, sessionId, issuedAt);
  }

  /** Seconds a session record must live: until the last token it governs has expired. */
  private ttlFor(expiresAtEpochSeconds: number): number {
    return Math.max(expiresAtEpochSeconds - nowSeconds(), 0) + this.auth.accessTokenLifetimeSeconds + 1;
  }

  private get userStateTtl(): number {
    return this.auth.refreshTokenLifetimeSeconds + this.auth.accessTokenLifetimeSeconds;
  }

  /** Mirrors a session to Redis. When Redis does not take it, the user is checked in PostgreSQL until it does. */
  putSession(userId: number, session: SessionSnapshot): Promise<boolean> {
    return this.writeSession(userId, session.id, sessionRecordOf(session));
  }

  /**
   * Mirrors a user's active flag and cutoff to Redis (same fallback as putSession), unless Redis
   * already holds the state of a later change (a higher auth version).
   */
  putUserState(userId: number, user: UserSnapshot): Promise<boolean> {
    return this.writeUserState(userId, userStateOf(user));
  }

  /** Returns false when Redis did not take the write (not when a newer record in place won). */
  private async writeSession(userId: number, sessionId: string, record: SessionRecord): Promise<boolean> {
    try {
      await this.records.putSession({ key: RedisKeys.session(userId, sessionId), value: JSON.stringify(record), state: record.s, ttlSeconds: this.ttlFor(record.e) });
      return true;
    } catch (error) {
      this.markUnsynced(userId, error as Error);
      return false;
    }
  }

  private async writeUserState(userId: number, record: UserStateRecord): Promise<boolean> {
    try {
      await this.records.putUserState(RedisKeys.userState(userId), JSON.stringify(record), record.n, this.userStateTtl);
      return true;
    } catch (error) {
      this.markUnsynced(userId, error as Error);
      return false;
    }
  }

  /** Users whose Redis records may be stale (a write failed); checked in PostgreSQL until resynced. */
  get unsyncedUsers(): number {
    return this.unsynced.size;
  }

  private noteRedisTrouble(): void {
    this.distrustUntil = Date.now() + DISTRUST_AFTER_REDIS_ERROR_MS;
  }

  private markUnsynced(userId: number, error: Error): void {
    this.noteRedisTrouble();
    if (!this.unsynced.has(userId)) this.logger.warn(`Redis did not take a revocation record (${error.message}); resyncing`);
    this.unsynced.add(userId);
    this.reconcileTimer ??= setInterval(() => void this.reconcile(), RECONCILE_INTERVAL_MS).unref();
  }

  /** Rewrites every unsynced user's records from PostgreSQL; stops once Redis has taken them all. */
  async reconcile(): Promise<void> {
    for (const userId of [...this.unsynced]) {
      try {
        await this.rewriteFromDatabase(userId);
        this.unsynced.delete(userId);
      } catch {
        break; // Redis (or PostgreSQL) still unavailable: try again on the next tick.
      }
    }
    if (this.unsynced.size === 0 && this.reconcileTimer) {
      clearInterval(this.reconcileTimer);
      this.reconcileTimer = undefined;
      this.logger.log('revocation records resynced to Redis');
    }
  }

  private async rewriteFromDatabase(userId: number): Promise<void> {
    const user = await this.users.findAuthState(userId);
    const sessions = await this.sessions.findRecentSnapshots(userId, this.auth.accessTokenLifetimeSeconds, RECONCILE_MAX_SESSIONS);
    const state = user ? userStateOf(user) : null;
    await this.records.rewriteUser(
      RedisKeys.userState(userId),
      state ? { value: JSON.stringify(state), version: state.n, ttlSeconds: this.userStateTtl } : null,
      sessions.map((session) => {
        const record = sessionRecordOf(session);
        return { key: RedisKeys.session(userId, session.id), value: JSON.stringify(record), state: record.s, ttlSeconds: this.ttlFor(record.e) };
      }),
    );
  }

  onModuleDestroy(): void {
    if (this.reconcileTimer) clearInterval(this.reconcileTimer);
  }
}
