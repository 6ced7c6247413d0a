import { CACHE_MANAGER } from '@nestjs/cache-manager';
import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Cache } from 'cache-manager';
import { type DataSource, type EntityManager, QueryFailedError } from 'typeorm';
import { ReplicaReader } from '../database/replica-reader.service.js';
import { RedisKeys } from '../redis/redis-keys.js';
import { User } from './user.entity.js';

/** The Django system's TTL for `user_lookup:<username or e-mail>`. */
export const USER_LOOKUP_TTL_MS = 5 * 60 * 1000;
export const ME_ROUTE = '/api/me/';
/** last_login writes of this window go to PostgreSQL in one UPDATE. */
export const LAST_LOGIN_BATCH_MS = 250;

export class DuplicateUserError extends Error {
  constructor(readonly fields: Array<'username' | 'email'>) {
    super(`duplicate ${fields.join(', ')}`);
  }
}

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
export class UsersService implements OnModuleDestroy {
  private readonly logger = new Logger(UsersService.name);
  private readonly pendingLastLogins = new Set<number>();
  private lastLoginTimer: NodeJS.Timeout | undefined;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly replicas: ReplicaReader,
    @Inject(CACHE_MANAGER) private readonly cache: Cache,
  ) {}

  /** Which of username / e-mail are already taken (primary: this decides a registration). */
  async findTakenFields(username: string, email: string): Promise<Array<'username' | 'email'>> {
    const rows: Array<{ username: string; email: string }> = await this.dataSource.query(
      'SELECT username, email FROM users WHERE username = $1 OR email = $2',
      [username, email.toLowerCase()],
    );
    const taken: Array<'username' | 'email'> = [];
    if (rows.some((row) => row.username === username)) taken.push('username');
    if (rows.some((row) => row.email === email.toLowerCase())) taken.push('email');
    return taken;
  }

  /** Inserts a user; a concurrent duplicate surfaces as DuplicateUserError, never as a 500. */
  async create(input: NewUser, manager: EntityManager = this.dataSource.manager): Promise<User> {
    const user = manager.create(User, {
      username: input.username,
      email: input.email.toLowerCase(),
      passwordHash: input.passwordHash,
    });
    try {
      return await manager.save(User, user);
    } catch (error) {
      if (error instanceof QueryFailedError && (error.driverError as { code?: string }).code === UNIQUE_VIOLATION) {
        const constraint = (error.driverError as { constraint?: string }).constraint ?? '';
        throw new DuplicateUserError([constraint.includes('email') ? 'email' : 'username']);
      }
      throw error;
    }
  }

  /**
   * The user a login identifier (username, or e-mail in any case) names. An exact username match
   * wins over an e-mail match. Uses the `user_lookup:` cache for the id, then reads the row from the
   * primary, so a stale cache entry can never log someone into another account.
   */
  async findByLoginIdentifier(identifier: string): Promise<User | null> {
    const cachedId = await this.cache.get<number>(RedisKeys.userLookup(identifier)).catch(() => undefined);
    if (typeof cachedId === 'number') {
      const user = await this.findById(cachedId);
      if (user && (user.username === identifier || user.email === identifier.toLowerCase())) return user;
    }
    const user = await this.dataSource
      .getRepository(User)
      .createQueryBuilder('user')
      .where('user.username = :identifier OR user.email = :email', { identifier, email: identifier.toLowerCase() })
      .orderBy('CASE WHEN user.username = :identifier THEN 0 ELSE 1 END')
      .limit(1)
      .getOne();
    if (user) {
      const key = user.username === identifier ? user.username : user.email;
      await this.cache.set(RedisKeys.userLookup(key), user.id, USER_LOOKUP_TTL_MS).catch(() => undefined);
    }
    return user;
  }

  /** Primary read by (lower-cased) e-mail address. */
  findByEmail(email: string): Promise<User | null> {
    return this.dataSource.manager.findOne(User, { where: { email: email.toLowerCase() } });
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

  /**
   * Updates last_login without making the caller wait: the login answers first, and the logins of
   * the next LAST_LOGIN_BATCH_MS are written together in one UPDATE (one PostgreSQL transaction
   * instead of one per login under load). Pending ones are written at shutdown.
   */
  recordLoginInBackground(id: number): void {
    this.pendingLastLogins.add(id);
    this.lastLoginTimer ??= setTimeout(() => void this.flushLastLogins(), LAST_LOGIN_BATCH_MS);
  }

  async flushLastLogins(): Promise<void> {
    clearTimeout(this.lastLoginTimer);
    this.lastLoginTimer = undefined;
    const ids = [...this.pendingLastLogins];
    this.pendingLastLogins.clear();
    if (ids.length === 0) return;
    await this.dataSource
      .query('UPDATE users SET last_login = now() WHERE id = ANY($1::int[])', [ids])
      .catch((error: Error) => this.logger.warn(`last_login update failed for ${ids.length} user(s): ${error.message}`));
  }

  async onModuleDestroy(): Promise<void> {
    await this.flushLastLogins();
  }

  /** Sets the user-wide cutoff to now (and optionally deactivates); `user` gets the stored values. Caches are dropped. */
  async cutOffTokens(user: User, options: { deactivate?: boolean } = {}, manager: EntityManager = this.dataSource.manager): Promise<void> {
    // TypeORM answers an UPDATE … RETURNING with [rows, affected count].
    const [[row]]: [Array<{ is_active: boolean; tokens_valid_after: Date }>, number] = await manager.query(
      `UPDATE users SET tokens_valid_after = now(), is_active = is_active AND NOT $2::boolean
        WHERE id = $1 RETURNING is_active, tokens_valid_after`,
      [user.id, options.deactivate === true],
    );
    user.isActive = row.is_active;
    user.tokensValidAfter = row.tokens_valid_after;
    await this.invalidate(user);
  }

  async setPasswordHash(user: User, passwordHash: string, manager: EntityManager = this.dataSource.manager): Promise<void> {
    await manager.update(User, { id: user.id }, { passwordHash });
    user.passwordHash = passwordHash;
    await this.invalidate(user);
  }

  /**
   * Drops everything cached about a user: both lookup keys and the per-user response cache. Call it
   * after any change of username, e-mail, password or active flag (before the change is visible).
   */
  async invalidate(user: Pick<User, 'id' | 'username' | 'email'>, previous?: Pick<User, 'username' | 'email'>): Promise<void> {
    const keys = new Set([
      RedisKeys.userLookup(user.username),
      RedisKeys.userLookup(user.email),
      RedisKeys.response(user.id, ME_ROUTE),
    ]);
    if (previous) {
      keys.add(RedisKeys.userLookup(previous.username));
      keys.add(RedisKeys.userLookup(previous.email));
    }
    await Promise.all([...keys].map((key) => this.cache.del(key).catch(() => false)));
  }
}
