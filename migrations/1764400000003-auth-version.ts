import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * users.auth_version: bumped by every change of the user's auth state (password, active flag,
 * revocation cutoff). The Redis mirror of that state carries it, and a write there never replaces a
 * record of a higher version, so a request that read the user before a change cannot put the old
 * state back over the new one.
 */
export class AuthVersion1764400000003 implements MigrationInterface {
  name = 'AuthVersion1764400000003';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "users" ADD COLUMN "auth_version" integer NOT NULL DEFAULT 0`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "users" DROP COLUMN "auth_version"`);
  }
}
