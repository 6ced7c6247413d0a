import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Bookkeeping of `npm run import:django`: per imported account, the values the import last wrote
 * (username, e-mail, password hash as Django stored it, active flag). A rerun updates a field only
 * when Django's value moved away from it AND the service's value still equals it, so a change made
 * here since (a hash upgraded to argon2id at login, a password changed or reset here) is never
 * overwritten. No foreign key on purpose: an account deleted here keeps its row, so a rerun knows
 * not to bring it back.
 */
export class DjangoImportState1764400000010 implements MigrationInterface {
  name = 'DjangoImportState1764400000010';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "django_import_users" (
        "user_id" integer PRIMARY KEY,
        "username" varchar(150) NOT NULL,
        "email" varchar(254) NOT NULL,
        "password" varchar(255) NOT NULL,
        "is_active" boolean NOT NULL,
        "first_imported_at" timestamptz NOT NULL DEFAULT now(),
        "last_changed_at" timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "django_import_users"`);
  }
}
