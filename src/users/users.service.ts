import { CACHE_MANAGER } from '@nestjs/cache-manager';
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Cache } from 'cache-manager';
import { type DataSource, type EntityManager, QueryFailedError } from 'typeorm';
import { ResponseCache } from '../cache/response-cache.service.js';
import { ReplicaReader } from '../database/replica-reader.service.js';
import { RedisKeys } from '../redis/redis-keys.js';
import { loginKey, normalizeUsername } from './login-identifier.js';
import { LoginIdentifier } from './login-identifier.entity.js';
import { User, type UserAuthState } from './user.entity.js';

/** The Django system's TTL for `user_lookup:<username or e-mail>` (here keyed by `loginKey`). */
export const USER_LOOKUP_TTL_MS = 5 * 60 * 1000;

export class DuplicateUserError extends Error {
  constructor(readonly fields: Array<'username' | 'email'>) {
    super(`duplicate ${fields.join(', ')}`);
  }
}

/** The auth state after a change, with what `invalidate` needs. */
export type ChangedAuthState = UserAuthState & Pick<User, 'id' | 'username' | 'email'>;

const CHANGED_STATE_COLUMNS =
  'id, username, email, is_active AS "isActive", tokens_valid_after AS "tokensValidAfter", auth_version AS "authVersion"';

export interface NewUser {
  username: string;
  email: string;
  passwordHash: string;
}

const UNIQUE_VIOLATION = '23505';

/**
 * Users: storage, the login lookup cache and invalidation. Reads that decide authentication go to
 * the primary; only profile reads may use a replica.
 */
@Injectable()
export class UsersService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
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
    const rows: Array<{ identifier: string }> = await this.dataSource.query(
      'SELECT identifier FROM login_identifiers WHERE identifier = ANY($1::text[])',
      [[keys.username, keys.email]],
    );
    const taken = new Set(rows.map((row) => row.identifier));
    return (['username', 'email'] as const).filter((field) => taken.has(keys[field]));
  }

  /**
   * Inserts a user and its login identifiers (username and e-mail, keyed by `loginKey`; one row when
   * they are the same string). A concurrent registration that took the same name, address or
   * identifier surfaces as DuplicateUserError naming the field, never as a 500: the caller's
   * transaction then rolls the user back.
   */
  async create(input: NewUser, manager: EntityManager = this.dataSource.manager): Promise<User> {
    const user = manager.create(User, {
      username: normalizeUsername(input.username),
      email: input.email.toLowerCase(),
      passwordHash: input.passwordHash,
    });
    let saved: User;
    try {
      saved = await manager.save(User, user);
    } catch (error) {
      if (error instanceof QueryFailedError && (error.driverError as { code?: string }).code === UNIQUE_VIOLATION) {
        const constraint = (error.driverError as { constraint?: string }).constraint ?? '';
        throw new DuplicateUserError([constraint.includes('email') ? 'email' : 'username']);
      }
      throw error;
    }
    const wanted = new Map<string, 'username' | 'email'>([[loginKey(saved.username), 'username']]);
    if (!wanted.has(loginKey(saved.email))) wanted.set(loginKey(saved.email), 'email');
    // Sorted, so two registrations that want each other's identifiers lock them in the same order
    // (one waits for the other) instead of deadlocking. ON CONFLICT DO NOTHING waits for a
    // concurrent insert of the same key to commit or roll back, then reports whether it lost.
    const rows = [...wanted].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const inserted: Array<{ identifier: string }> = await manager.query(
      `INSERT INTO login_identifiers (identifier, user_id, kind)
       SELECT identifier, $1, kind FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS wanted (identifier, kind, position)
        ORDER BY position
       ON CONFLICT (identifier) DO NOTHING
       RETURNING identifier`,
      [saved.id, rows.map(([identifier]) => identifier), rows.map(([, kind]) => kind)],
    );
    const got = new Set(inserted.map((row) => row.identifier));
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
      const user = await this.dataSource
        .getRepository(User)
        .createQueryBuilder('user')
        .innerJoin(LoginIdentifier, 'li', 'li.userId = user.id AND li.identifier = :key', { key })
        .where('user.id = :id', { id: cachedId })
        .getOne();
      if (user) return user;
    }
    const user = await this.dataSource
      .getRepository(User)
      .createQueryBuilder('user')
      .innerJoin(LoginIdentifier, 'li', 'li.userId = user.id')
      .where('li.identifier = :key', { key })
      .getOne();
    if (user) await this.cache.set(RedisKeys.userLookup(key), user.id, USER_LOOKUP_TTL_MS).catch(() => undefined);
    return user;
  }

  /** Primary read by (lower-cased) e-mail address. */
  findByEmail(email: string): Promise<User | null> {
    return this.dataSource.manager.findOne(User, { where: { email: email.toLowerCase() } });
  }

  /** The id of the user whose e-mail address this is (lower-cased), or null. */
  async findIdByEmail(email: string): Promise<number | null> {
    const [row]: Array<{ id: number }> = await this.dataSource.query('SELECT id FROM users WHERE email = $1', [email.toLowerCase()]);
    return row?.id ?? null;
  }

  /** Primary read by id: for flows that decide authentication or just wrote the row. */
  findById(id: number, manager: EntityManager = this.dataSource.manager): Promise<User | null> {
    return manager.findOne(User, { where: { id } });
  }

  /** Profile read: may come from a replica; a replica that lags (row missing) falls back to the primary. */
  findProfile(id: number): Promise<User | null> {
    return this.replicas.read(
      (manager) => manager.findOne(User, { where: { id } }),
      (user) => user === null,
    );
  }

  /** Sets last_login to now for these users, in one UPDATE (LastLoginRecorder batches them). */
  async recordLogins(ids: number[]): Promise<void> {
    await this.dataSource.query('UPDATE users SET last_login = now() WHERE id = ANY($1::int[])', [ids]);
  }

  /**
   * Sets the user-wide cutoff to now (and optionally deactivates), bumping the auth version in the
   * same UPDATE. Returns the new state, or null when there is no such user. Call `invalidate` once
   * the caller's transaction has committed.
   */
  async cutOffTokens(userId: number, options: { deactivate?: boolean } = {}, manager: EntityManager = this.dataSource.manager): Promise<ChangedAuthState | null> {
    return this.changeAuthState(
      manager,
      `UPDATE users SET tokens_valid_after = now(), is_active = is_active AND NOT $2::boolean, auth_version = auth_version + 1
        WHERE id = $1 RETURNING ${CHANGED_STATE_COLUMNS}`,
      [userId, options.deactivate === true],
    );
  }

  /**
   * Replaces the password only if `checkedHash` is still the stored one (and the user is active),
   * with the cutoff and the auth version in the same UPDATE: of concurrent changes checked against the
   * same password (one reset link confirmed many times, two password changes), exactly one wins.
   * Returns the new state, or null when the password had already changed. Run it in the transaction
   * that also revokes the sessions, so no login can open one between the two.
   */
  async replacePassword(userId: number, checkedHash: string, newHash: string, manager: EntityManager = this.dataSource.manager): Promise<ChangedAuthState | null> {
    return this.changeAuthState(
      manager,
      `UPDATE users SET password = $3, tokens_valid_after = now(), auth_version = auth_version + 1
        WHERE id = $1 AND password = $2 AND is_active RETURNING ${CHANGED_STATE_COLUMNS}`,
      [userId, checkedHash, newHash],
    );
  }

  /**
   * Stores a new hash of the same password (e.g. a Django pbkdf2 hash upgraded to argon2id at login),
   * only if `oldHash` is still the stored one. Not a credential change: the auth version stays.
   */
  async rehashPassword(userId: number, oldHash: string, newHash: string): Promise<boolean> {
    const [, updated]: [unknown, number] = await this.dataSource.query('UPDATE users SET password = $3 WHERE id = $1 AND password = $2', [
      userId,
      oldHash,
      newHash,
    ]);
    return updated === 1;
  }

  private async changeAuthState(manager: EntityManager, sql: string, parameters: unknown[]): Promise<ChangedAuthState | null> {
    // TypeORM answers an UPDATE … RETURNING with [rows, affected count].
    const [rows]: [ChangedAuthState[], number] = await manager.query(sql, parameters);
    return rows[0] ?? null;
  }

  /**
   * Drops everything cached about a user: both lookup keys and the per-user response cache. Call it
   * after any change of username, e-mail, password or active flag (before the change is visible).
   */
  async invalidate(user: Pick<User, 'id' | 'username' | 'email'>, previous?: Pick<User, 'username' | 'email'>): Promise<void> {
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
