import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { RequestClient } from '../common/decorators/client.decorator.js';
import { DomainEvents } from '../common/events/domain-events.js';
import { epochSeconds, nowSeconds } from '../common/time.js';
import { authConfig } from '../config/auth.config.js';
import { type Transaction, Transactions } from '../database/transactions.service.js';
import { Metrics } from '../metrics/metrics.js';
import { type ChangedAuthState, UsersService } from '../users/users.service.js';
import { SessionRepository } from './persistence/session.repository.js';
import { RevocationStore } from './revocation-store.service.js';
import { Session } from './session.entity.js';

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
    private readonly repository: SessionRepository,
    private readonly users: UsersService,
    private readonly transactions: Transactions,
    private readonly store: RevocationStore,
    @Inject(authConfig.KEY) private readonly auth: ConfigType<typeof authConfig>,
    private readonly events: DomainEvents,
    private readonly metrics: Metrics,
  ) {}

  /**
   * Opens a session for a login, and mirrors it and the user's auth state to Redis. Returns the head
   * of its refresh chain, or null when the credential the caller checked is no longer current.
   *
   * A credential change wins, structurally: in one transaction, the user row is locked FOR SHARE
   * only if the user is active and `credential` still holds — the stored password hash the login
   * verified, or, for a refresh token of the Django system (no session), a token issued after the
   * user's cutoff — and the session row is inserted under that lock. Under READ COMMITTED a password
   * UPDATE that is in flight makes the lock wait, then re-check the updated row and find nothing;
   * and one that comes after must wait for this commit, and then revokes the new session in its own
   * transaction (AccountService). No login that checked the old password keeps a session.
   */
  async openIfCurrent(
    userId: number,
    client: ClientInfo,
    credential: { passwordHash: string } | { issuedAt: number },
  ): Promise<RefreshHead | null> {
    const iat = nowSeconds();
    const session = Object.assign(new Session(), {
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
    const state = await this.transactions.run(async (transaction) => {
      const locked = await this.users.lockIfCredentialCurrent(userId, credential, transaction);
      if (locked) await this.repository.insert(session, transaction);
      return locked;
    });
    if (!state) return null;
    // The user state as the insert saw it (under its lock): a later change has a higher version and wins in Redis.
    await Promise.all([this.store.putSession(userId, session), this.store.putUserState(userId, state)]);
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
    const rotated = await this.repository.rotate(userId, sessionId, presentedJti, {
      refreshJti: newJti(),
      refreshIat: iat,
      expiresAt: new Date((iat + this.auth.refreshTokenLifetimeSeconds) * 1000),
      ip: truncate(client.ip, 64),
      userAgent: truncate(client.userAgent, 512),
    });
    if (rotated) {
      await this.store.putSession(userId, rotated);
      return { kind: 'rotated', head: headOf(rotated) };
    }

    const session = await this.repository.findOne(userId, sessionId);
    if (!session || session.revokedAt || session.expiresAt.getTime() <= Date.now()) return { kind: 'invalid' };
    const graceEndsAt = (session.rotatedAt?.getTime() ?? 0) + this.auth.refreshReuseGraceSeconds * 1000;
    if (session.previousJti === presentedJti && Date.now() <= graceEndsAt) {
      return { kind: 'grace', head: headOf(session) };
    }
    await this.revoke(userId, sessionId, 'refresh_reuse');
    return { kind: 'reuse' };
  }

  /** The session as stored (primary): for verification of refresh tokens outside rotation. */
  findSession(userId: number, sessionId: string): Promise<Session | null> {
    return this.repository.findOne(userId, sessionId);
  }

  /** Live sessions of a user, newest first. */
  listActive(userId: number): Promise<Session[]> {
    return this.repository.listActive(userId);
  }

  /** Revokes one session: durable in PostgreSQL first, then mirrored to Redis. Returns false if none was live. */
  async revoke(userId: number, sessionId: string, reason: RevocationReason): Promise<boolean> {
    const revoked = await this.repository.revoke(userId, sessionId, reason);
    if (revoked) await this.mirror(userId, [revoked], reason);
    return revoked !== null;
  }

  /** Revokes every live session of a user, except `keep` when given, and mirrors that. Returns how many were revoked. */
  async revokeAll(userId: number, reason: RevocationReason, keep?: string | null): Promise<number> {
    const revoked = await this.repository.revokeAll(userId, reason, keep);
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
    change: (transaction: Transaction) => Promise<ChangedAuthState | null>,
  ): Promise<number | null> {
    const changed = await this.transactions.run(async (transaction) => {
      const state = await change(transaction);
      if (!state) return null;
      return { state, revoked: await this.repository.revokeAll(userId, reason, keep, transaction) };
    });
    if (!changed) return null;
    await Promise.all([this.publishState(changed.state), this.mirror(userId, changed.revoked, reason)]);
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
      ended = await this.endSessionsWith(userId, reason, null, (transaction) => this.users.cutOffTokens(userId, { deactivate }, transaction));
    } else {
      const state = await this.users.cutOffTokens(userId, { deactivate });
      if (state) await this.publishState(state);
      ended = state ? 0 : null;
    }
    if (ended !== null) this.events.emit('user.cut_off', { userId, reason, deactivated: deactivate });
    return ended;
  }

  /** After a committed change of the user row: drop what is cached about the user, then mirror its new state to Redis. */
  private async publishState(state: ChangedAuthState): Promise<void> {
    await this.users.invalidate(state);
    await this.store.putUserState(state.id, state);
  }

  /** Mirrors revoked sessions to Redis (after their commit), counts them and tells who listens. */
  private async mirror(userId: number, sessions: Session[], reason: RevocationReason): Promise<void> {
    if (sessions.length === 0) return;
    // Counted here, after the commit: a revocation rolled back with its transaction never happened.
    this.metrics.revoked(reason, sessions.length);
    await Promise.all(sessions.map((session) => this.store.putSession(userId, session)));
    this.events.emit('session.revoked', { userId, sessionIds: sessions.map((session) => session.id), reason });
  }

  /**
   * Blacklists one refresh token id (simplejwt's token_blacklist). Returns false when it was already
   * blacklisted — the insert is the atomic "consume" for tokens that carry no session — or when its
   * user does not exist (a validly signed token of a deleted user: nothing to consume).
   */
  blacklist(userId: number, jti: string, expiresAt: number, transaction?: Transaction): Promise<boolean> {
    return this.repository.blacklist(userId, jti, new Date(expiresAt * 1000), transaction);
  }

  isBlacklisted(jti: string): Promise<boolean> {
    return this.repository.isBlacklisted(jti);
  }

  /** Removes expired sessions and blacklist rows (Django's flushexpiredtokens). */
  flushExpired(): Promise<{ sessions: number; blacklisted: number }> {
    return this.repository.deleteExpired(this.auth.accessTokenLifetimeSeconds);
  }
}
