import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { authConfig } from '../config/auth.config.js';
import { RedisKeys } from '../redis/redis-keys.js';
import { RedisService } from '../redis/redis.service.js';

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
}

/** Redis mirror of the user-wide auth state. */
export interface UserStateRecord {
  /** is_active */
  a: boolean;
  /** tokens issued before this (epoch seconds) are dead; 0 when never set */
  c: number;
}

export type RevocationVerdict = 'ok' | 'revoked' | 'user_inactive' | 'user_not_found';

interface FallbackRow {
  is_active: boolean;
  tokens_valid_after: Date | null;
  session_user: number | null;
  created_at: Date | null;
  last_seen_at: Date | null;
  expires_at: Date | null;
  revoked_at: Date | null;
  ip: string | null;
  user_agent: string | null;
}

const epochSeconds = (date: Date) => Math.floor(date.getTime() / 1000);

/**
 * The revocation check of the hot path and its Redis mirror.
 *
 * Redis holds positive records: a session record (active or revoked) and a user state record, both
 * under the user's hash tag so one MGET reads them on Redis Cluster too. A missing record never
 * means "not revoked": it sends the check to PostgreSQL (the truth), which then rebuilds the record.
 * So a FLUSHALL or an empty restart cannot resurrect a revoked token, and a Redis outage turns into
 * PostgreSQL reads rather than errors.
 */
@Injectable()
export class RevocationStore {
  private readonly logger = new Logger(RevocationStore.name);

  constructor(
    private readonly redis: RedisService,
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(authConfig.KEY) private readonly auth: ConfigType<typeof authConfig>,
  ) {}

  /** One Redis round trip while Redis is healthy and holds both records; PostgreSQL otherwise. */
  async check(userId: number, sessionId: string | null, issuedAt: number): Promise<RevocationVerdict> {
    const keys = sessionId
      ? [RedisKeys.userState(userId), RedisKeys.session(userId, sessionId)]
      : [RedisKeys.userState(userId)];
    let values: Array<string | null> | undefined;
    try {
      values = await this.redis.client.mget(...keys);
    } catch {
      values = undefined;
    }
    if (values && values.every((value) => value !== null)) {
      const user = JSON.parse(values[0]!) as UserStateRecord;
      const session = sessionId ? (JSON.parse(values[1]!) as SessionRecord) : null;
      return this.decide(user, session, sessionId, issuedAt);
    }
    return this.checkInDatabase(userId, sessionId, issuedAt, values !== undefined);
  }

  private decide(
    user: UserStateRecord,
    session: SessionRecord | null,
    sessionId: string | null,
    issuedAt: number,
  ): RevocationVerdict {
    if (!user.a) return 'user_inactive';
    if (issuedAt < user.c) return 'revoked';
    if (sessionId && (!session || session.s !== 'active' || session.e * 1000 < Date.now())) return 'revoked';
    return 'ok';
  }

  private async checkInDatabase(
    userId: number,
    sessionId: string | null,
    issuedAt: number,
    redisAnswered: boolean,
  ): Promise<RevocationVerdict> {
    const rows: FallbackRow[] = await this.dataSource.query(
      `SELECT u.is_active, u.tokens_valid_after, s.user_id AS session_user, s.created_at, s.last_seen_at,
              s.expires_at, s.revoked_at, s.ip, s.user_agent
         FROM users u LEFT JOIN sessions s ON s.id = $2 AND s.user_id = u.id
        WHERE u.id = $1`,
      [userId, sessionId],
    );
    const row = rows[0];
    if (!row) return 'user_not_found';
    const user: UserStateRecord = {
      a: row.is_active,
      c: row.tokens_valid_after ? epochSeconds(row.tokens_valid_after) : 0,
    };
    const session: SessionRecord | null =
      row.session_user !== null
        ? {
            s: row.revoked_at ? 'revoked' : 'active',
            c: epochSeconds(row.created_at!),
            l: epochSeconds(row.last_seen_at!),
            e: epochSeconds(row.expires_at!),
            ip: row.ip,
            ua: row.user_agent,
          }
        : null;
    if (redisAnswered) {
      // Rebuild the Redis view (it was flushed, restarted empty, or the records expired).
      await Promise.all([
        this.putUserState(userId, user),
        session && sessionId ? this.putSession(userId, sessionId, session) : undefined,
      ]);
    }
    return this.decide(user, session, sessionId, issuedAt);
  }

  /** Seconds a record must live: until the last token it governs has expired. */
  private ttlFor(expiresAtEpochSeconds: number): number {
    const remaining = expiresAtEpochSeconds - Math.floor(Date.now() / 1000);
    return Math.max(remaining, 0) + this.auth.accessTokenLifetimeSeconds + 1;
  }

  /** Writes a session record; returns false when Redis did not take it (the caller may retry). */
  async putSession(userId: number, sessionId: string, record: SessionRecord): Promise<boolean> {
    try {
      await this.redis.client.set(RedisKeys.session(userId, sessionId), JSON.stringify(record), 'EX', this.ttlFor(record.e));
      return true;
    } catch (error) {
      this.logger.warn(`session record not written to Redis: ${(error as Error).message}`);
      return false;
    }
  }

  async putUserState(userId: number, state: UserStateRecord): Promise<boolean> {
    try {
      const ttl = this.auth.refreshTokenLifetimeSeconds + this.auth.accessTokenLifetimeSeconds;
      await this.redis.client.set(RedisKeys.userState(userId), JSON.stringify(state), 'EX', ttl);
      return true;
    } catch (error) {
      this.logger.warn(`user state not written to Redis: ${(error as Error).message}`);
      return false;
    }
  }

  /** Drops the user state record so the next check rebuilds it from PostgreSQL. */
  async forgetUserState(userId: number): Promise<boolean> {
    try {
      await this.redis.client.del(RedisKeys.userState(userId));
      return true;
    } catch {
      return false;
    }
  }
}
