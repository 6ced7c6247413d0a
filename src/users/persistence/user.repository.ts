import type { Transaction } from '../../database/transactions.service.js';
import type { User, UserAuthState } from '../user.entity.js';

/** The scope of a user's rows for read-your-writes (ReplicaReader). */
export const userScope = (id: number) => `user:${id}`;

export class DuplicateUserError extends Error {
  constructor(readonly fields: Array<'username' | 'email'>) {
    super(`duplicate ${fields.join(', ')}`);
  }
}

/** The auth state after a change, with what a cache invalidation needs. */
export type ChangedAuthState = UserAuthState & Pick<User, 'id' | 'username' | 'email'>;

/** A new user row, username and e-mail already normalised. */
export interface NewUserRow {
  username: string;
  email: string;
  passwordHash: string;
}

/** What a login checked: the stored password hash it verified, or (a Django token) when the token was issued. */
export type CheckedCredential = { passwordHash: string } | { issuedAt: number };

/**
 * Every query on `users` and `login_identifiers`, the tables UsersModule owns (brocoders'
 * pattern: an abstract class as the injection token, bound to an implementation in UsersModule, so
 * another persistence is bound in one place). Reads go to the primary unless the method says
 * otherwise. Methods that take a `transaction` run in the caller's unit of work (Transactions).
 */
export abstract class UserRepository {
  /** Which of `identifiers` (login keys) are taken by anyone. */
  abstract findTakenIdentifiers(identifiers: string[]): Promise<string[]>;

  /** Inserts a user; a unique violation on the name or address is a DuplicateUserError. */
  abstract insert(user: NewUserRow, transaction?: Transaction): Promise<User>;

  /**
   * Inserts login identifiers for a user, in the order given (callers sort them, so that concurrent
   * registrations lock in one order). Returns those inserted: a taken one is skipped, not an error.
   */
  abstract insertLoginIdentifiers(userId: number, identifiers: Array<[identifier: string, kind: 'username' | 'email']>, transaction: Transaction): Promise<string[]>;

  /** The user that owns login identifier `key`; with `id`, only if that user still owns it. */
  abstract findByLoginIdentifier(key: string, id?: number): Promise<User | null>;

  abstract findByEmail(email: string): Promise<User | null>;

  abstract findIdByEmail(email: string): Promise<number | null>;

  abstract findById(id: number, transaction?: Transaction): Promise<User | null>;

  /**
   * Profile read: may come from a replica (one that has replayed the user's last write, see
   * ReplicaReader); a replica without the row falls back to the primary.
   */
  abstract findProfile(id: number): Promise<User | null>;

  /** The part of the user that decides whether its tokens live (revocation fallback). */
  abstract findAuthState(id: number): Promise<UserAuthState | null>;

  /**
   * Locks the user row FOR SHARE if the user is active and `credential` is still current, in the
   * caller's transaction; returns the auth state as locked, or null. A credential change in flight
   * makes this wait and then re-check the changed row; one that comes later waits for the caller's
   * commit. (SessionsService.openIfCurrent.)
   */
  abstract lockIfCredentialCurrent(id: number, credential: CheckedCredential, transaction: Transaction): Promise<UserAuthState | null>;

  /** Sets last_login to now for each of `ids` (one statement). */
  abstract recordLogins(ids: number[]): Promise<void>;

  /** Cutoff to now (and maybe deactivate), auth version bumped; null when there is no such user. */
  abstract cutOffTokens(id: number, deactivate: boolean, transaction?: Transaction): Promise<ChangedAuthState | null>;

  /** New password only if `checkedHash` is still stored and the user active; cutoff and auth version with it. */
  abstract replacePassword(id: number, checkedHash: string, newHash: string, transaction?: Transaction): Promise<ChangedAuthState | null>;

  /** A new hash of the same password, only if `oldHash` is still stored (the auth version stays). */
  abstract rehashPassword(id: number, oldHash: string, newHash: string): Promise<boolean>;

  /** Marks the address verified, if it was not; false when it already was (or no such user). */
  abstract markEmailVerified(id: number, transaction?: Transaction): Promise<boolean>;
}
