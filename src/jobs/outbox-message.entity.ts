import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** A job that must not be lost: written in the same transaction as the change that needs it. */
@Entity({ name: 'outbox' })
/** The relay's scan: pending rows only, so the index stays small however many rows were relayed. */
@Index('outbox_pending_idx', ['id'], { where: '"dispatched_at" IS NULL' })
export class OutboxMessage {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id: string;

  @Column({ type: 'varchar', length: 64 })
  queue: string;

  @Column({ type: 'varchar', length: 64 })
  name: string;

  @Column({ type: 'jsonb' })
  payload: Record<string, unknown>;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt: Date;

  @Column({ name: 'dispatched_at', type: 'timestamptz', nullable: true })
  dispatchedAt: Date | null;
}
