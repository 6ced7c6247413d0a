import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** A single blacklisted refresh token (simplejwt's token_blacklist), kept until it would have expired. */
@Entity({ name: 'blacklisted_tokens' })
@Index('blacklisted_tokens_expires_at_idx', ['expiresAt'])
export class BlacklistedToken {
  @PrimaryColumn({ type: 'varchar', length: 32 })
  jti: string;

  @Column({ name: 'user_id', type: 'integer' })
  userId: number;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt: Date;

  @Column({ name: 'blacklisted_at', type: 'timestamptz', default: () => 'now()' })
  blacklistedAt: Date;
}
