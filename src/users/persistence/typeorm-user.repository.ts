import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { type DataSource, QueryFailedError } from 'typeorm';
import { ReplicaReader } from '../../database/replica-reader.service.js';
import type { Transaction } from '../../database/transactions.service.js';
import { LoginIdentifier } from '../login-identifier.entity.js';
import { User, type UserAuthState } from '../user.entity.js';
import { type ChangedAuthState, type CheckedCredential, DuplicateUserError, type NewUserRow, UserRepository, userScope } from './user.repository.js';

const UNIQUE_VIOLATION = '23505';

const AUTH_STATE_COLUMNS = 'is_active AS "isActive", tokens_valid_after AS "tokensValidAfter", auth_version AS "authVersion"';
const CHANGED_STATE_COLUMNS = `id, username, email, ${AUTH_STATE_COLUMNS}`;
/** Every column of `users` under the entity's property names, for raw reads (the replica's). */
const USER_COLUMNS = `id, username, email, password AS "passwordHash", is_active AS "isActive", date_joined AS "dateJoined",
  last_login AS "lastLogin", email_verified_at AS "emailVerifiedAt", tokens_valid_after AS "tokensValidAfter", auth_version AS "authVersion"`;

/** UserRepository on PostgreSQL through TypeORM (the primary) and ReplicaReader (profile reads). */
@Injectable()
export class TypeOrmUserRepository extends UserRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly replicas: ReplicaReader,
  ) {
    super();
  }

  async findTakenIdentifiers(identifiers: string[]): Promise<string[]> {
    const rows: Array<{ identifier: string }> = await this.dataSource.query(
      'SELECT identifier FROM login_identifiers WHERE identifier = ANY($1::text[])',
      [identifiers],
    );
    return rows.map((row) => row.identifier);
  }

  async insert(input: NewUserRow, transaction: Transaction = this.dataSource.manager): Promise<User> {
    try {
      return await transaction.save(User, transaction.create(User, input));
    } catch (error) {
      if (error instanceof QueryFailedError && (error.driverError as { code?: string }).code === UNIQUE_VIOLATION) {
        const constraint = (error.driverError as { constraint?: string }).constraint ?? '';
        throw new DuplicateUserError([constraint.includes('email') ? 'email' : 'username']);
      }
      throw error;
    }
  }

  async insertLoginIdentifiers(userId: number, identifiers: Array<[string, 'username' | 'email']>, transaction: Transaction): Promise<string[]> {
    // ON CONFLICT DO NOTHING waits for a concurrent insert of the same key to commit or roll back,
    // then reports whether it lost.
    const inserted: Array<{ identifier: string }> = await transaction.query(
      `INSERT INTO login_identifiers (identifier, user_id, kind)
       SELECT identifier, $1, kind FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS wanted (identifier, kind, position)
        ORDER BY position
       ON CONFLICT (identifier) DO NOTHING
       RETURNING identifier`,
      [userId, identifiers.map(([identifier]) => identifier), identifiers.map(([, kind]) => kind)],
    );
    return inserted.map((row) => row.identifier);
  }

  findByLoginIdentifier(key: string, id?: number): Promise<User | null> {
    const query = this.dataSource
      .getRepository(User)
      .createQueryBuilder('user')
      .innerJoin(LoginIdentifier, 'li', 'li.userId = user.id AND li.identifier = :key', { key });
    if (id !== undefined) query.where('user.id = :id', { id });
    return query.getOne();
  }

  findByEmail(email: string): Promise<User | null> {
    return this.dataSource.manager.findOne(User, { where: { email } });
  }

  async findIdByEmail(email: string): Promise<number | null> {
    const [row]: Array<{ id: number }> = await this.dataSource.query('SELECT id FROM users WHERE email = $1', [email]);
    return row?.id ?? null;
  }

  findById(id: number, transaction: Transaction = this.dataSource.manager): Promise<User | null> {
    return transaction.findOne(User, { where: { id } });
  }

  async findProfile(id: number): Promise<User | null> {
    const rows = await this.replicas.read<User>(`SELECT ${USER_COLUMNS} FROM "users" WHERE "id" = $1`, [id], {
      isStale: (found) => found.length === 0,
      scope: userScope(id),
    });
    return rows[0] ? this.dataSource.manager.create(User, rows[0]) : null;
  }

  async findAuthState(id: number): Promise<UserAuthState | null> {
    const [row]: UserAuthState[] = await this.dataSource.query(`SELECT ${AUTH_STATE_COLUMNS} FROM users WHERE id = $1`, [id]);
    return row ?? null;
  }

  async lockIfCredentialCurrent(id: number, credential: CheckedCredential, transaction: Transaction): Promise<UserAuthState | null> {
    const [row]: UserAuthState[] = await transaction.query(
      `SELECT ${AUTH_STATE_COLUMNS} FROM users
        WHERE id = $1 AND is_active
          AND ($2::text IS NULL OR password = $2)
          AND ($3::bigint IS NULL OR tokens_valid_after IS NULL OR floor(extract(epoch FROM tokens_valid_after)) < $3)
        FOR SHARE`,
      [id, 'passwordHash' in credential ? credential.passwordHash : null, 'issuedAt' in credential ? credential.issuedAt : null],
    );
    return row ?? null;
  }

  async recordLogins(ids: number[]): Promise<void> {
    await this.dataSource.query('UPDATE users SET last_login = now() WHERE id = ANY($1::int[])', [ids]);
  }

  cutOffTokens(id: number, deactivate: boolean, transaction: Transaction = this.dataSource.manager): Promise<ChangedAuthState | null> {
    return changed(
      transaction,
      `UPDATE users SET tokens_valid_after = now(), is_active = is_active AND NOT $2::boolean, auth_version = auth_version + 1
        WHERE id = $1 RETURNING ${CHANGED_STATE_COLUMNS}`,
      [id, deactivate],
    );
  }

  replacePassword(id: number, checkedHash: string, newHash: string, transaction: Transaction = this.dataSource.manager): Promise<ChangedAuthState | null> {
    return changed(
      transaction,
      `UPDATE users SET password = $3, tokens_valid_after = now(), auth_version = auth_version + 1
        WHERE id = $1 AND password = $2 AND is_active RETURNING ${CHANGED_STATE_COLUMNS}`,
      [id, checkedHash, newHash],
    );
  }

  async rehashPassword(id: number, oldHash: string, newHash: string): Promise<boolean> {
    const [, updated]: [unknown, number] = await this.dataSource.query('UPDATE users SET password = $3 WHERE id = $1 AND password = $2', [id, oldHash, newHash]);
    return updated === 1;
  }

  async markEmailVerified(id: number, transaction: Transaction = this.dataSource.manager): Promise<boolean> {
    const [, updated]: [unknown, number] = await transaction.query(
      'UPDATE users SET email_verified_at = now() WHERE id = $1 AND email_verified_at IS NULL',
      [id],
    );
    return updated === 1;
  }
}

async function changed(transaction: Transaction, sql: string, parameters: unknown[]): Promise<ChangedAuthState | null> {
  // TypeORM answers an UPDATE … RETURNING with [rows, affected count].
  const [rows]: [ChangedAuthState[], number] = await transaction.query(sql, parameters);
  return rows[0] ?? null;
}
