import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { type DataSource, QueryFailedError } from 'typeorm';
import type { Transaction } from '../../database/transactions.service.js';
import { BlacklistedToken } from '../blacklisted-token.entity.js';
import { Session } from '../session.entity.js';
import { type NewHead, SessionRepository, type SessionSnapshot } from './session.repository.js';

const FOREIGN_KEY_VIOLATION = '23503';

/** Session columns under the entity's property names, for raw queries. */
const SNAPSHOT_COLUMNS = `id, created_at AS "createdAt", last_seen_at AS "lastSeenAt", expires_at AS "expiresAt",
  revoked_at AS "revokedAt", ip, user_agent AS "userAgent"`;

/** SessionRepository on PostgreSQL (the primary) through TypeORM. */
@Injectable()
export class TypeOrmSessionRepository extends SessionRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {
    super();
  }

  async insert(session: Session, transaction: Transaction): Promise<void> {
    await transaction.insert(Session, session);
  }

  async rotate(userId: number, sessionId: string, presentedJti: string, head: NewHead): Promise<Session | null> {
    const result = await this.dataSource
      .createQueryBuilder()
      .update(Session)
      .set({
        previousJti: presentedJti,
        refreshJti: head.refreshJti,
        refreshIat: head.refreshIat,
        rotatedAt: () => 'now()',
        lastSeenAt: () => 'now()',
        expiresAt: head.expiresAt,
        ip: head.ip,
        userAgent: head.userAgent,
      })
      .where('id = :sessionId AND user_id = :userId AND refresh_jti = :presentedJti', { sessionId, userId, presentedJti })
      .andWhere('revoked_at IS NULL AND expires_at > now()')
      .returning('*')
      .execute();
    return this.fromRaw(result.raw)[0] ?? null;
  }

  findOne(userId: number, sessionId: string): Promise<Session | null> {
    return this.dataSource.manager.findOne(Session, { where: { id: sessionId, userId } });
  }

  listActive(userId: number): Promise<Session[]> {
    return this.dataSource.manager
      .createQueryBuilder(Session, 'session')
      .where('session.user_id = :userId AND session.revoked_at IS NULL AND session.expires_at > now()', { userId })
      .orderBy('session.created_at', 'DESC')
      .getMany();
  }

  async revoke(userId: number, sessionId: string, reason: string): Promise<Session | null> {
    const result = await this.dataSource
      .createQueryBuilder()
      .update(Session)
      .set({ revokedAt: () => 'now()', revokedReason: reason })
      .where('id = :sessionId AND user_id = :userId AND revoked_at IS NULL', { sessionId, userId })
      .returning('*')
      .execute();
    return this.fromRaw(result.raw)[0] ?? null;
  }

  async revokeAll(userId: number, reason: string, keep: string | null | undefined, transaction: Transaction = this.dataSource.manager): Promise<Session[]> {
    const query = transaction
      .createQueryBuilder()
      .update(Session)
      .set({ revokedAt: () => 'now()', revokedReason: reason })
      .where('user_id = :userId AND revoked_at IS NULL', { userId });
    if (keep) query.andWhere('id <> :keep', { keep });
    const result = await query.returning('*').execute();
    return this.fromRaw(result.raw);
  }

  async findSnapshot(userId: number, sessionId: string): Promise<SessionSnapshot | null> {
    const [row]: SessionSnapshot[] = await this.dataSource.query(`SELECT ${SNAPSHOT_COLUMNS} FROM sessions WHERE id = $1 AND user_id = $2`, [
      sessionId,
      userId,
    ]);
    return row ?? null;
  }

  findRecentSnapshots(userId: number, graceSeconds: number, limit: number): Promise<SessionSnapshot[]> {
    return this.dataSource.query(
      `SELECT ${SNAPSHOT_COLUMNS} FROM sessions
        WHERE user_id = $1 AND expires_at > now() - make_interval(secs => $2)
        ORDER BY created_at DESC LIMIT $3`,
      [userId, graceSeconds, limit],
    );
  }

  async blacklist(userId: number, jti: string, expiresAt: Date, transaction: Transaction = this.dataSource.manager): Promise<boolean> {
    try {
      const result = await transaction
        .createQueryBuilder()
        .insert()
        .into(BlacklistedToken)
        .values({ jti, userId, expiresAt })
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

  async deleteExpired(graceSeconds: number): Promise<{ sessions: number; blacklisted: number }> {
    const sessions = await this.dataSource.query(`DELETE FROM sessions WHERE expires_at < now() - make_interval(secs => $1)`, [graceSeconds]);
    const blacklisted = await this.dataSource.query('DELETE FROM blacklisted_tokens WHERE expires_at < now()');
    return { sessions: sessions[1] ?? 0, blacklisted: blacklisted[1] ?? 0 };
  }

  /** Rows of UPDATE … RETURNING * (column names) as Session entities. */
  private fromRaw(raw: unknown): Session[] {
    return (raw as Array<Record<string, unknown>>).map((row) =>
      this.dataSource.manager.create(Session, {
        id: row.id as string,
        userId: row.user_id as number,
        createdAt: row.created_at as Date,
        lastSeenAt: row.last_seen_at as Date,
        ip: row.ip as string | null,
        userAgent: row.user_agent as string | null,
        refreshJti: row.refresh_jti as string,
        refreshIat: row.refresh_iat as number,
        previousJti: row.previous_jti as string | null,
        rotatedAt: row.rotated_at as Date | null,
        expiresAt: row.expires_at as Date,
        revokedAt: row.revoked_at as Date | null,
        revokedReason: row.revoked_reason as string | null,
      }),
    );
  }
}
