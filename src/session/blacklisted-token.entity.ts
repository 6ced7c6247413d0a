import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { User } from '../users/user.entity.js';

/** A single blacklisted refresh token (simplejwt's token_blacklist), kept until it would have expired. */
@Entity({ name: 'blacklisted_tokens' })
@Index('blacklisted_tokens_expires_at_idx', ['expiresAt'])
export class BlacklistedToken {
  @PrimaryColumn({ type: 'varchar', length: 32 })
  jti: string;

  @Column({ name: 'user_id', type: 'integer' })
  userId: number;

  /** Declares the foreign key (the service reads and writes `userId`). */
  @ManyToOne(() => User, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'blacklisted_tokens_user_id_fkey' })
  user?: User;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt: Date;

  @Column({ name: 'blacklisted_at', type: 'timestamptz', default: () => 'now()' })
  blacklistedAt: Date;
}
