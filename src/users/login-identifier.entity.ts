import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * A string that logs in to one account: its username or its e-mail address, keyed by `loginKey`
 * (src/users/login-identifier.ts). The primary key is the rule "one identifier, one account".
 */
@Entity({ name: 'login_identifiers' })
@Index('login_identifiers_user_id_idx', ['userId'])
export class LoginIdentifier {
  @PrimaryColumn({ type: 'text' })
  identifier: string;

  @Column({ name: 'user_id', type: 'integer' })
  userId: number;

  @Column({ type: 'varchar', length: 8 })
  kind: 'username' | 'email';
}
