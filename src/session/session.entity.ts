import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { User } from '../users/user.entity.js';

/**
 * A server-side session: one per successful login. Its refresh tokens form one chain; `refreshJti` is
 * the head (the only refresh token that may be rotated), `previousJti` the one it replaced (accepted
 * again only inside the reuse grace window). Revocation is durable here; Redis mirrors it.
 */
@Entity({ name: 'sessions' })
@Index('sessions_user_id_idx', ['userId'])
@Index('sessions_expires_at_idx', ['expiresAt'])
export class Session {
  @PrimaryColumn({ type: 'uuid' })
  id: string;

  @Column({ name: 'user_id', type: 'integer' })
  userId: number;

  /** Declares the foreign key (the service reads and writes `userId`). */
  @ManyToOne(() => User, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'sessions_user_id_fkey' })
  user?: User;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'last_seen_at', type: 'timestamptz' })
  lastSeenAt: Date;

  @Column({ type: 'varchar', length: 64, nullable: true })
  ip: string | null;

  @Column({ name: 'user_agent', type: 'varchar', length: 512, nullable: true })
  userAgent: string | null;

  @Column({ name: 'refresh_jti', type: 'varchar', length: 32 })
  refreshJti: string;

  /** `iat` of the head refresh token (epoch seconds), so the same token can be re-issued in the grace window. */
  @Column({ name: 'refresh_iat', type: 'integer' })
  refreshIat: number;

  @Column({ name: 'previous_jti', type: 'varchar', length: 32, nullable: true })
  previousJti: string | null;

  @Column({ name: 'rotated_at', type: 'timestamptz', nullable: true })
  rotatedAt: Date | null;

  /** When the head refresh token expires; the session ends then. */
  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt: Date;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt: Date | null;

  @Column({ name: 'revoked_reason', type: 'varchar', length: 32, nullable: true })
  revokedReason: string | null;
}
