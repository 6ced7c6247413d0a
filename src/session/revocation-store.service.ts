import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { epochSeconds, nowSeconds } from '../common/time.js';
import { authConfig } from '../config/auth.config.js';
import { Metrics } from '../metrics/metrics.js';
import type { ChainableCommander } from 'ioredis';
import { RedisKeys } from '../redis/redis-keys.js';
import { type RedisClient, RedisService } from '../redis/redis.service.js';
import type { UserAuthState } from '../users/user.entity.js';
import { UsersService } from '../users/users.service.js';
import { SessionRepository, type SessionSnapshot } from './persistence/session.repository.js';

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


/**
 * Compare-and-set writes of the records, as Lua scripts (one atomic step in Redis; each touches one
 * key, so they run on Redis Cluster too). A user state record is not replaced by one of a lower
 * auth version; a session record that says revoked is not set back to active. So a request that
 * read its data before a credential change cannot, by writing late, undo what the change wrote.
 * Both answer 1 when they wrote, 0 when the record in place won.
 */
const PUT_USER_STATE_LUA = `
local current = redis.call('GET', KEYS[1])
if current then
  local ok, record = pcall(cjson.decode, current)
  if ok and type(record) == 'table' and type(record.n) == 'number' and record.n > tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return 1`;

const PUT_SESSION_LUA = `
if ARGV[2] == 'active' then
  local current = redis.call('GET', KEYS[1])
  if current then
    local ok, record = pcall(cjson.decode, current)
    if ok and type(record) == 'table' and record.s == 'revoked' then
      return 0
    end
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return 1`;

/** The scripts as ioredis commands (defineCommand), on the client and in pipelines. */
interface RecordCommands<Result> {
  authPutUserState(key: string, record: string, version: number, ttlSeconds: number): Result;
  authPutSession(key: string, record: string, state: SessionRecord['s'], ttlSeconds: number): Result;
}
type RecordClient = RedisClient & RecordCommands<Promise<number>>;
type RecordPipeline = ChainableCommander & RecordCommands<ChainableCommander>;

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
 * Writes are compare-and-sets (Lua): a user state record never gives way to one of a lower auth
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
  private readonly records: RecordClient;

  constructor(
    private readonly redis: RedisService,
    private readonly users: UsersService,
    private readonly sessions: SessionRepository,
    @Inject(authConfig.KEY) private readonly auth: ConfigType<typeof authConfig>,
    private readonly metrics: Metrics,
  ) {
    redis.client.defineCommand('authPutUserState', { numberOfKeys: 1, lua: PUT_USER_STATE_LUA });
    redis.client.defineCommand('authPutSession', { numberOfKeys: 1, lua: PUT_SESSION_LUA });
    this.records = redis.client as RecordClient;
    // A connection lost or a cluster node failing (even one this process had no command on): the
    // records' freshness is in doubt until the other instances' resyncs have landed.
    redis.client.on('error', () => this.noteRedisTrouble());
    redis.client.on('node error', () => this.noteRedisTrouble());
  }

  /** One Redis round trip while Redis is healthy and holds fresh records; PostgreSQL otherwise. */
  async check(userId: number, sessionId: string | null, issuedAt: number): Promise<RevocationVerdict> {
    return (await this.checkAndRead(userId, sessionId, issuedAt)).verdict;
  }

  /**
   * The check, plus `alsoRead`: more keys of the same user read in the same MGET (e.g. the user's
   * response-cache entry). They must carry the `{<user id>}` hash tag, so the MGET stays on one
   * Redis Cluster slot. `also` holds their values in order, or is undefined when Redis did not answer.
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
    const own = sessionId ? 2 : 1;
    let values: Array<string | null> | undefined;
    try {
      values = sessionId
        ? await this.redis.client.mget(RedisKeys.userState(userId), RedisKeys.session(userId, sessionId), ...alsoRead)
        : await this.redis.client.mget(RedisKeys.userState(userId), ...alsoRead);
    } catch {
      values = undefined;
      this.noteRedisTrouble();
      this.metrics.redisFallback();
    }
    const also = values && alsoRead.length > 0 ? values.slice(own) : undefined;
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
      await this.records.authPutSession(RedisKeys.session(userId, sessionId), JSON.stringify(record), record.s, this.ttlFor(record.e));
      return true;
    } catch (error) {
      this.markUnsynced(userId, error as Error);
      return false;
    }
  }

  private async writeUserState(userId: number, record: UserStateRecord): Promise<boolean> {
    try {
      await this.records.authPutUserState(RedisKeys.userState(userId), JSON.stringify(record), record.n, this.userStateTtl);
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
    // One user's keys share a hash tag, so this pipeline stays on one Redis Cluster node.
    const pipeline = this.redis.client.pipeline() as RecordPipeline;
    if (user) {
      const record = userStateOf(user);
      pipeline.authPutUserState(RedisKeys.userState(userId), JSON.stringify(record), record.n, this.userStateTtl);
    } else {
      pipeline.del(RedisKeys.userState(userId));
    }
    for (const session of sessions) {
      const record = sessionRecordOf(session);
      pipeline.authPutSession(RedisKeys.session(userId, session.id), JSON.stringify(record), record.s, this.ttlFor(record.e));
    }
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([error]) => error);
    if (failed) throw failed[0];
  }

  onModuleDestroy(): void {
    if (this.reconcileTimer) clearInterval(this.reconcileTimer);
  }
}
