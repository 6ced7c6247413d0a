import { CACHE_MANAGER } from '@nestjs/cache-manager';
import { Inject, Injectable } from '@nestjs/common';
import type { Cache } from 'cache-manager';
import { ResponseCache } from '../cache/response-cache.service.js';
import { ReplicaReader } from '../database/replica-reader.service.js';
import type { Transaction } from '../database/transactions.service.js';
import { RedisKeys } from '../redis/redis-keys.js';
import { loginIdentifiersOf, loginKey, normalizeUsername } from './login-identifier.js';
import { type ChangedAuthState, type CheckedCredential, DuplicateUserError, UserRepository, userScope } from './persistence/user.repository.js';
import type { User, UserAuthState } from './user.entity.js';

export { DuplicateUserError, type ChangedAuthState };

/** The Django system's TTL for `user_lookup:<username or e-mail>` (here keyed by `loginKey`). */
export const USER_LOOKUP_TTL_MS = 5 * 60 * 1000;

export interface NewUser {
  username: string;
  email: string;
  passwordHash: string;
}

/**
 * Users: the rules (identifiers, normalisation), the login lookup cache and invalidation. Every
 * query on users and login_identifiers is UserRepository's. Reads that decide authentication go to
 * the primary; only profile reads may use a replica.
 */
@Injectable()
export class UsersService {
  constructor(
    private readonly repository: UserRepository,
    private readonly replicas: ReplicaReader,
    @Inject(CACHE_MANAGER) private readonly cache: Cache,
    private readonly responses: ResponseCache,
  ) {}

  /**
   * Which of username / e-mail are already taken as a login identifier by anyone — a username equal
   * to another account's e-mail address counts (primary: this decides a registration). Only a
   * courtesy that reports every problem at once: the `login_identifiers` primary key decides races.
   */
  async findTakenFields(username: string, email: string): Promise<Array<'username' | 'email'>> {
    const keys = { username: loginKey(username), email: loginKey(email) };
    const taken = new Set(await this.repository.findTakenIdentifiers([keys.username, keys.email]));
    return (['username', 'email'] as const).filter((field) => taken.has(keys[field]));
  }

  /**
   * Inserts a user and its login identifiers (username and e-mail, keyed by `loginKey`; one row when
   * they are the same string). A concurrent registration that took the same name, address or
   * identifier surfaces as DuplicateUserError naming the field, never as a 500: the caller's
   * transaction then rolls the user back.
   */
  async create(input: NewUser, transaction: Transaction): Promise<User> {
    const saved = await this.repository.insert(
      { username: normalizeUsername(input.username), email: input.email.toLowerCase(), passwordHash: input.passwordHash },
      transaction,
    );
    // Sorted, so two registrations that want each other's identifiers lock them in the same order
    // (one waits for the other) instead of deadlocking.
    const rows = loginIdentifiersOf(saved).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const got = new Set(await this.repository.insertLoginIdentifiers(saved.id, rows, transaction));
    const lost = rows.filter(([identifier]) => !got.has(identifier));
    if (lost.length > 0) {
      // One row for a username that is its own e-mail address: losing it loses both fields.
      const fields = rows.length === 1 ? ['username', 'email'] : lost.map(([, kind]) => kind);
      throw new DuplicateUserError((['username', 'email'] as const).filter((field) => fields.includes(field)));
    }
    return saved;
  }

  /**
   * The user a login identifier names (a username, or an e-mail address in any case), through the
   * `login_identifiers` table: one identifier, one account. The `user_lookup:` cache only remembers
   * the id; the row is then read from the primary together with a check that this account still owns
   * the identifier, so a stale or foreign cache entry can never send an identifier to another account.
   */
  async findByLoginIdentifier(identifier: string): Promise<User | null> {
    const key = loginKey(identifier);
    const cachedId = await this.cache.get<number>(RedisKeys.userLookup(key)).catch(() => undefined);
    if (typeof cachedId === 'number') {
      const user = await this.repository.findByLoginIdentifier(key, cachedId);
      if (user) return user;
    }
    const user = await this.repository.findByLoginIdentifier(key);
    if (user) await this.cache.set(RedisKeys.userLookup(key), user.id, USER_LOOKUP_TTL_MS).catch(() => undefined);
    return user;
  }

  /** Primary read by (lower-cased) e-mail address. */
  findByEmail(email: string): Promise<User | null> {
    return this.repository.findByEmail(email.toLowerCase());
  }

  /** The id of the user whose e-mail address this is (lower-cased), or null. */
  findIdByEmail(email: string): Promise<number | null> {
    return this.repository.findIdByEmail(email.toLowerCase());
  }

  /** Primary read by id: for flows that decide authentication or just wrote the row. */
  findById(id: number, transaction?: Transaction): Promise<User | null> {
    return this.repository.findById(id, transaction);
  }

  /**
   * Profile read: may come from a replica, but never one that has not replayed this user's last
   * write through this service (read-your-writes, see `invalidate`); a replica without the row
   * falls back to the primary.
   */
  findProfile(id: number): Promise<User | null> {
    return this.repository.findProfile(id);
  }

  /** The user's auth state, from the primary (the revocation check's fallback). */
  findAuthState(id: number): Promise<UserAuthState | null> {
    return this.repository.findAuthState(id);
  }

  /** See UserRepository.lockIfCredentialCurrent: the login side of "a credential change wins". */
  lockIfCredentialCurrent(id: number, credential: CheckedCredential, transaction: Transaction): Promise<UserAuthState | null> {
    return this.repository.lockIfCredentialCurrent(id, credential, transaction);
  }

  /** Marks the address verified (false when it already was). Call `invalidate` after the commit. */
  markEmailVerified(id: number, transaction?: Transaction): Promise<boolean> {
    return this.repository.markEmailVerified(id, transaction);
  }

  /** Sets last_login to now for these users, in one UPDATE (LastLoginRecorder batches them). */
  async recordLogins(ids: number[]): Promise<void> {
    await this.repository.recordLogins(ids);
  }

  /**
   * Sets the user-wide cutoff to now (and optionally deactivates), bumping the auth version in the
   * same UPDATE. Returns the new state, or null when there is no such user. Call `invalidate` once
   * the caller's transaction has committed.
   */
  async cutOffTokens(userId: number, options: { deactivate?: boolean } = {}, transaction?: Transaction): Promise<ChangedAuthState | null> {
    return this.repository.cutOffTokens(userId, options.deactivate === true, transaction);
  }

  /**
   * Replaces the password only if `checkedHash` is still the stored one (and the user is active),
   * with the cutoff and the auth version in the same UPDATE: of concurrent changes checked against the
   * same password (one reset link confirmed many times, two password changes), exactly one wins.
   * Returns the new state, or null when the password had already changed. Run it in the transaction
   * that also revokes the sessions, so no login can open one between the two.
   */
  async replacePassword(userId: number, checkedHash: string, newHash: string, transaction?: Transaction): Promise<ChangedAuthState | null> {
    return this.repository.replacePassword(userId, checkedHash, newHash, transaction);
  }

  /**
   * Stores a new hash of the same password (e.g. a Django pbkdf2 hash upgraded to argon2id at login),
   * only if `oldHash` is still the stored one. Not a credential change: the auth version stays.
   */
  rehashPassword(userId: number, oldHash: string, newHash: string): Promise<boolean> {
    return this.repository.rehashPassword(userId, oldHash, newHash);
  }

  /**
   * Drops everything cached about a user: both lookup keys and the per-user response cache. Call it
   * after any committed change of the user's row (username, e-mail, its verification, password,
   * active flag). First it records the write for read-your-writes, so that the profile read that
   * refills the response cache cannot come from a replica that has not replayed the change yet.
   */
  async invalidate(user: Pick<User, 'id' | 'username' | 'email'>, previous?: Pick<User, 'username' | 'email'>): Promise<void> {
    await this.replicas.wrote(userScope(user.id));
    const keys = new Set([
      RedisKeys.userLookup(loginKey(user.username)),
      RedisKeys.userLookup(loginKey(user.email)),
    ]);
    if (previous) {
      keys.add(RedisKeys.userLookup(loginKey(previous.username)));
      keys.add(RedisKeys.userLookup(loginKey(previous.email)));
    }
    await Promise.all([...[...keys].map((key) => this.cache.del(key).catch(() => false)), this.responses.invalidateUser(user.id)]);
  }
}
