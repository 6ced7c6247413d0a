import type { Transaction } from '../../database/transactions.service.js';
import type { Session } from '../session.entity.js';

/** What a session record in Redis is made of (a Session entity, or a row selected with the same names). */
export type SessionSnapshot = Pick<Session, 'id' | 'createdAt' | 'lastSeenAt' | 'expiresAt' | 'revokedAt' | 'ip' | 'userAgent'>;

/** The new head of a session's refresh chain, written by `rotate`. */
export interface NewHead {
  refreshJti: string;
  refreshIat: number;
  expiresAt: Date;
  ip: string | null;
  userAgent: string | null;
}

/**
 * Every query on `sessions` and `blacklisted_tokens`, the tables SessionModule owns (an abstract
 * class as the injection token, bound in SessionModule). All on the primary: sessions decide
 * authentication.
 */
export abstract class SessionRepository {
  abstract insert(session: Session, transaction: Transaction): Promise<void>;

  /**
   * Moves the head of a live session's chain from `presentedJti` to `head`, atomically (a
   * conditional UPDATE: of concurrent rotations of one token exactly one matches). Returns the
   * rotated session, or null when `presentedJti` was not the head of a live session.
   */
  abstract rotate(userId: number, sessionId: string, presentedJti: string, head: NewHead): Promise<Session | null>;

  abstract findOne(userId: number, sessionId: string): Promise<Session | null>;

  /** Live sessions of a user, newest first. */
  abstract listActive(userId: number): Promise<Session[]>;

  /** Revokes one live session; returns it, or null when none was live. */
  abstract revoke(userId: number, sessionId: string, reason: string): Promise<Session | null>;

  /** Revokes every live session of a user but `keep`; returns them. */
  abstract revokeAll(userId: number, reason: string, keep: string | null | undefined, transaction?: Transaction): Promise<Session[]>;

  /** A session as its Redis record needs it, or null (revocation fallback). */
  abstract findSnapshot(userId: number, sessionId: string): Promise<SessionSnapshot | null>;

  /** Sessions of a user that may still govern a token (expired less than `graceSeconds` ago), newest first. */
  abstract findRecentSnapshots(userId: number, graceSeconds: number, limit: number): Promise<SessionSnapshot[]>;

  /** Inserts a blacklist row; false when the jti was already there or its user does not exist. */
  abstract blacklist(userId: number, jti: string, expiresAt: Date, transaction?: Transaction): Promise<boolean>;

  abstract isBlacklisted(jti: string): Promise<boolean>;

  /** Deletes sessions expired more than `graceSeconds` ago and expired blacklist rows. */
  abstract deleteExpired(graceSeconds: number): Promise<{ sessions: number; blacklisted: number }>;
}
