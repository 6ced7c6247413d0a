import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { type DataSource, type EntityManager, QueryFailedError } from 'typeorm';
import type { RequestClient } from '../common/decorators/client.decorator.js';
import { DomainEvents } from '../common/events/domain-events.js';
import { epochSeconds, nowSeconds } from '../common/time.js';
import { authConfig } from '../config/auth.config.js';
import { type ChangedAuthState, UsersService } from '../users/users.service.js';
import { BlacklistedToken } from './blacklisted-token.entity.js';
import { RevocationStore, type UserSnapshot } from './revocation-store.service.js';
import { Session } from './session.entity.js';

const FOREIGN_KEY_VIOLATION = '23503';

/** simplejwt's jti: uuid4().hex. */
export const newJti = () => randomUUID().replaceAll('-', '');


export type ClientInfo = RequestClient;

/** The claims of the refresh token at the head of a session's chain. */
export interface RefreshHead {
  sessionId: string;
  userId: number;
  jti: string;
  iat: number;
  exp: number;
}

export type RotationResult =
  /** The presented token was the head: the session moved on to a new head. */
  | { kind: 'rotated'; head: RefreshHead }
  /** The presented token was just rotated by a concurrent request (two tabs): same head again. */
  | { kind: 'grace'; head: RefreshHead }
  /** A rotated-out token came back after the grace window: the whole session was revoked. */
  | { kind: 'reuse' }
  /** Unknown, expired or already revoked session. */
  | { kind: 'invalid' };

export type RevocationReason = 'logout' | 'revoked' | 'refresh_reuse' | 'logout_all' | 'password_change' | 'blacklist' | 'deactivated' | 'password_reset';

const truncate = (value: string | null, length: number) => (value === null ? null : value.slice(0, length));

function headOf(session: Session): RefreshHead {
  return {
    sessionId: session.id,
    userId: session.userId,
    jti: session.refreshJti,
    iat: session.refreshIat,
    exp: epochSeconds(session.expiresAt),
  };
}


/**
 * Server-side sessions and their refresh-token chains. PostgreSQL (primary) is the truth; every
 * change is mirrored to Redis through the RevocationStore.
 */
@Injectable()
export class SessionsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly store: RevocationStore,
    private readonly users: UsersService,
    private readonly events: DomainEvents,
    @Inject(authConfig.KEY) private readonly auth: ConfigType<typeof authConfig>,
  ) {}

  /**
   * Opens a session for a login, and mirrors it and the user's auth state to Redis. Returns the head
   * of its refresh chain, or null when the credential the caller checked is no longer current.
   *
   * A credential change wins, structurally: the session row is inserted by the same statement that
   * checks, on the user row locked FOR SHARE, that the user is active and that `credential` still
   * holds — the stored password hash the login verified, or, for a refresh token of the Django system
   * (no session), a token issued after the user's cutoff. Under READ COMMITTED a password UPDATE that
   * is in flight makes this statement wait, then re-check the updated row and insert nothing; and one
   * that comes after must wait for this insert to commit, and then revokes the new session in its own
   * transaction (AccountService). No login that checked the old password keeps a session.
   * (It reads `users`, the one place this service does: the check and the insert must be one statement.)
   */
  async openIfCurrent(
    userId: number,
    client: ClientInfo,
    credential: { passwordHash: string } | { issuedAt: number },
  ): Promise<RefreshHead | null> {
    const iat = nowSeconds();
    const session = this.dataSource.manager.create(Session, {
      id: randomUUID(),
      userId,
      createdAt: new Date(iat * 1000),
      lastSeenAt: new Date(iat * 1000),
      ip: truncate(client.ip, 64),
      userAgent: truncate(client.userAgent, 512),
      refreshJti: newJti(),
      refreshIat: iat,
      previousJti: null,
      rotatedAt: null,
      expiresAt: new Date((iat + this.auth.refreshTokenLifetimeSeconds) * 1000),
      revokedAt: null,
      revokedReason: null,
    });
    const rows: UserSnapshot[] = await this.dataSource.query(
      `WITH checked AS (
         SELECT id, is_active, tokens_valid_after, auth_version FROM users
          WHERE id = $1 AND is_active
            AND ($2::text IS NULL OR password = $2)
            AND ($3::bigint IS NULL OR tokens_valid_after IS NULL OR floor(extract(epoch FROM tokens_valid_after)) < $3)
          FOR SHARE
       ), opened AS (
         INSERT INTO sessions (id, user_id, created_at, last_seen_at, ip, user_agent, refresh_jti, refresh_iat, expires_at)
         SELECT $4, checked.id, $5, $5, $6, $7, $8, $9, $10 FROM checked
         RETURNING id
       )
       SELECT checked.is_active AS "isActive", checked.tokens_valid_after AS "tokensValidAfter", checked.auth_version AS "authVersion"
         FROM checked JOIN opened ON true`,
      [
        userId,
        'passwordHash' in credential ? credential.passwordHash : null,
        'issuedAt' in credential ? credential.issuedAt : null,
        session.id,
        session.createdAt,
        session.ip,
        session.userAgent,
        session.refreshJti,
        session.refreshIat,
        session.expiresAt,
      ],
    );
    if (rows.length === 0) return null;
    // The user state as the insert saw it (under its lock): a later change has a higher version and wins in Redis.
    await Promise.all([this.store.putSession(userId, session), this.store.putUserState(userId, rows[0])]);
    return headOf(session);
  }

  /**
   * Rotates the refresh chain atomically: a conditional UPDATE on the primary lets exactly one of any
   * number of concurrent requests move the head. The others see the token as just rotated and, inside
   * the grace window, get the same new head (so the session never forks into two live chains); after
   * the window, a rotated-out token is reuse (RFC 9700) and the whole session is revoked.
   */
  async rotate(userId: number, sessionId: string, presentedJti: string, client: ClientInfo): Promise<RotationResult> {
    const iat = nowSeconds();
    const rotated: Session[] = await this.dataSource
      .createQueryBuilder()
      .update(Session)
      .set({
        previousJti: presentedJti,
        refreshJti: newJti(),
        refreshIat: iat,
        rotatedAt: () => 'now()',
        lastSeenAt: () => 'now()',
        expiresAt: new Date((iat + this.auth.refreshTokenLifetimeSeconds) * 1000),
        ip: truncate(client.ip, 64),
        userAgent: truncate(client.userAgent, 512),
      })
      .where('id = :sessionId AND user_id = :userId AND refresh_jti = :presentedJti', { sessionId, userId, presentedJti })
      .andWhere('revoked_at IS NULL AND expires_at > now()')
      .returning('*')
      .execute()
      .then((result) => (result.raw as Array<Record<string, unknown>>).map((raw) => this.fromRaw(raw)));
    if (rotated.length === 1) {
      await this.store.putSession(userId, rotated[0]);
      return { kind: 'rotated', head: headOf(rotated[0]) };
    }

    const session = await this.dataSource.manager.findOne(Session, { where: { id: sessionId, userId } });
    if (!session || session.revokedAt || session.expiresAt.getTime() <= Date.now()) return { kind: 'invalid' };
    const graceEndsAt = (session.rotatedAt?.getTime() ?? 0) + this.auth.refreshReuseGraceSeconds * 1000;
    if (session.previousJti === presentedJti && Date.now() <= graceEndsAt) {
      return { kind: 'grace', head: headOf(session) };
    }
    await this.revoke(userId, sessionId, 'refresh_reuse');
    return { kind: 'reuse' };
  }

  private fromRaw(raw: Record<string, unknown>): Session {
    return this.dataSource.manager.create(Session, {
      id: raw.id as string,
      userId: raw.user_id as number,
      createdAt: raw.created_at as Date,
      lastSeenAt: raw.last_seen_at as Date,
      ip: raw.ip as string | null,
      userAgent: raw.user_agent as string | null,
      refreshJti: raw.refresh_jti as string,
      refreshIat: raw.refresh_iat as number,
      previousJti: raw.previous_jti as string | null,
      rotatedAt: raw.rotated_at as Date | null,
      expiresAt: raw.expires_at as Date,
      revokedAt: raw.revoked_at as Date | null,
      revokedReason: raw.revoked_reason as string | null,
    });
  }

  /** The session as stored (primary): for verification of refresh tokens outside rotation. */
  findSession(userId: number, sessionId: string): Promise<Session | null> {
    return this.dataSource.manager.findOne(Session, { where: { id: sessionId, userId } });
  }

  /** Live sessions of a user, newest first. */
  listActive(userId: number): Promise<Session[]> {
    return this.dataSource.manager
      .createQueryBuilder(Session, 'session')
      .where('session.user_id = :userId AND session.revoked_at IS NULL AND session.expires_at > now()', { userId })
      .orderBy('session.created_at', 'DESC')
      .getMany();
  }

  /** Revokes one session: durable in PostgreSQL first, then mirrored to Redis. Returns false if none was live. */
  async revoke(userId: number, sessionId: string, reason: RevocationReason): Promise<boolean> {
    const result = await this.dataSource
      .createQueryBuilder()
      .update(Session)
      .set({ revokedAt: () => 'now()', revokedReason: reason })
      .where('id = :sessionId AND user_id = :userId AND revoked_at IS NULL', { sessionId, userId })
      .returning('*')
      .execute();
    const rows = (result.raw as Array<Record<string, unknown>>).map((raw) => this.fromRaw(raw));
    await this.mirror(userId, rows, reason);
    return rows.length > 0;
  }

  /** Revokes every live session of a user, except `keep` when given, and mirrors that. Returns how many were revoked. */
  async revokeAll(userId: number, reason: RevocationReason, keep?: string | null): Promise<number> {
    const revoked = await this.revokeAllRows(userId, reason, keep);
    await this.mirror(userId, revoked, reason);
    return revoked.length;
  }

  /**
   * A credential change that ends sessions, as one call: in one transaction `change` updates the
   * user row (e.g. the password; it bumps the auth version, under the row lock that orders it
   * against logins in flight — see openIfCurrent), then every session but `keep` is revoked. Only
   * after the commit are the user's caches dropped and the new state and revoked sessions mirrored
   * to Redis (a revoked record written for a change that then rolled back would never turn active
   * again). Returns how many sessions ended, or null (nothing changed) when `change` found no row.
   */
  async endSessionsWith(
    userId: number,
    reason: RevocationReason,
    keep: string | null,
    change: (manager: EntityManager) => Promise<ChangedAuthState | null>,
  ): Promise<number | null> {
    const changed = await this.dataSource.transaction(async (manager) => {
      const state = await change(manager);
      if (!state) return null;
      return { state, revoked: await this.revokeAllRows(userId, reason, keep, manager) };
    });
    if (!changed) return null;
    await this.users.invalidate(changed.state);
    await Promise.all([this.store.putUserState(userId, changed.state), this.mirror(userId, changed.revoked, reason)]);
    return changed.revoked.length;
  }

  /**
   * Cuts a user off, as one call: every token of the user issued up to now dies (the user-wide
   * cutoff moves to now; `deactivate` also turns the account off) and, unless `endSessions` is
   * false, every session ends. Returns how many sessions ended, or null when there is no such user.
   */
  async cutOff(userId: number, reason: RevocationReason, options: { deactivate?: boolean; endSessions?: boolean } = {}): Promise<number | null> {
    const { deactivate = false, endSessions = true } = options;
    let ended: number | null;
    if (endSessions) {
      ended = await this.endSessionsWith(userId, reason, null, (manager) => this.users.cutOffTokens(userId, { deactivate }, manager));
    } else {
      const state = await this.users.cutOffTokens(userId, { deactivate });
      if (state) {
        await this.users.invalidate(state);
        await this.store.putUserState(userId, state);
      }
      ended = state ? 0 : null;
    }
    if (ended !== null) this.events.emit('user.cut_off', { userId, reason, deactivated: deactivate });
    return ended;
  }


  /**
   * Revokes every live session of a user (but `keep`) in `manager`'s transaction, without touching
   * Redis: call `mirror` with the result once the transaction has committed (a revoked record written
   * for a change that then rolled back would never turn active again).
   */
  private async revokeAllRows(userId: number, reason: RevocationReason, keep: string | null | undefined, manager: EntityManager = this.dataSource.manager): Promise<Session[]> {
    const query = manager
      .createQueryBuilder()
      .update(Session)
      .set({ revokedAt: () => 'now()', revokedReason: reason })
      .where('user_id = :userId AND revoked_at IS NULL', { userId });
    if (keep) query.andWhere('id <> :keep', { keep });
    const result = await query.returning('*').execute();
    return (result.raw as Array<Record<string, unknown>>).map((raw) => this.fromRaw(raw));
  }

  /** Mirrors revoked sessions (as returned by revokeAllRows) to Redis, and tells who listens. */
  private async mirror(userId: number, sessions: Session[], reason: RevocationReason): Promise<void> {
    if (sessions.length === 0) return;
    await Promise.all(sessions.map((session) => this.store.putSession(userId, session)));
    this.events.emit('session.revoked', { userId, sessionIds: sessions.map((session) => session.id), reason });
  }

  /**
   * Blacklists one refresh token id (simplejwt's token_blacklist). Returns false when it was already
   * blacklisted — the insert is the atomic "consume" for tokens that carry no session — or when its
   * user does not exist (a validly signed token of a deleted user: nothing to consume).
   */
  async blacklist(userId: number, jti: string, expiresAt: number, manager: EntityManager = this.dataSource.manager): Promise<boolean> {
    try {
      const result = await manager
        .createQueryBuilder()
        .insert()
        .into(BlacklistedToken)
        .values({ jti, userId, expiresAt: new Date(expiresAt * 1000) })
        .orIgnore()
        .returning(['jti'])
        .execute();
      return (result.raw as unknown[]).length > 0;
    } catch (error) {
      if (error instanceof QueryFailedError && (error.driverError as { code?: string }).code === FOREIGN_KEY_VIOLATION) return false;
      throw error;
    }
  }

  async isBlacklisted(jti: string): Promise<boolean> {
    return (await this.dataSource.manager.countBy(BlacklistedToken, { jti })) > 0;
  }

  /** Removes expired sessions and blacklist rows (Django's flushexpiredtokens). */
  async flushExpired(): Promise<{ sessions: number; blacklisted: number }> {
    const sessions = await this.dataSource.query(
      `DELETE FROM sessions WHERE expires_at < now() - make_interval(secs => $1)`,
      [this.auth.accessTokenLifetimeSeconds],
    );
    const blacklisted = await this.dataSource.query('DELETE FROM blacklisted_tokens WHERE expires_at < now()');
    return { sessions: sessions[1] ?? 0, blacklisted: blacklisted[1] ?? 0 };
  }
}
