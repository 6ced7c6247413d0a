import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Transactional outbox: jobs written with the change that needs them, relayed to BullMQ afterwards. */
export class Outbox1764400000001 implements MigrationInterface {
  name = 'Outbox1764400000001';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "outbox" (
        "id" bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        "queue" varchar(64) NOT NULL,
        "name" varchar(64) NOT NULL,
        "payload" jsonb NOT NULL,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        "dispatched_at" timestamptz
      )`);
    await queryRunner.query(`CREATE INDEX "outbox_pending_idx" ON "outbox" ("id") WHERE "dispatched_at" IS NULL`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "outbox"`);
  }
}
