import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { User } from './user.entity.js';

/**
 * A string that logs in to one account: its username or its e-mail address, keyed by `loginKey`
 * (src/users/login-identifier.ts). The primary key is the rule "one identifier, one account".
 */
@Entity({ name: 'login_identifiers' })
@Index('login_identifiers_user_id_idx', ['userId'])
@Check('login_identifiers_kind_chk', `"kind" IN ('username', 'email')`)
export class LoginIdentifier {
  @PrimaryColumn({ type: 'text' })
  identifier: string;

  @Column({ name: 'user_id', type: 'integer' })
  userId: number;

  /** Declares the foreign key (the service reads and writes `userId`). */
  @ManyToOne(() => User, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'login_identifiers_user_id_fkey' })
  user?: User;

  @Column({ type: 'varchar', length: 8 })
  kind: 'username' | 'email';
}
