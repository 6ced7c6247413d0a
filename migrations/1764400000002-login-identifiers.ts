import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * One identifier, one account: every string a user logs in with (username and e-mail address) is a
 * row here, keyed as the service compares it (NFKC; lower case when it contains `@`, see
 * src/users/login-identifier.ts), and the primary key makes a username equal to another account's
 * e-mail address impossible, concurrent registrations included.
 *
 * Existing users are backfilled with PostgreSQL's normalize() and lower(): e-mail addresses first, so
 * where old data already collides (a username equal to another account's address) the address keeps
 * its owner, and that username logs in by its own e-mail address only. For non-ASCII identifiers
 * lower() follows the database's locale, which can differ from JavaScript's toLowerCase().
 */
export class LoginIdentifiers1764400000002 implements MigrationInterface {
  name = 'LoginIdentifiers1764400000002';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "login_identifiers" (
        "identifier" text PRIMARY KEY,
        "user_id" integer NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
        "kind" varchar(8) NOT NULL,
        CONSTRAINT "login_identifiers_kind_chk" CHECK ("kind" IN ('username', 'email'))
      )`);
    await queryRunner.query(`CREATE INDEX "login_identifiers_user_id_idx" ON "login_identifiers" ("user_id")`);
    await queryRunner.query(`
      INSERT INTO "login_identifiers" ("identifier", "user_id", "kind")
      SELECT lower(normalize("email", NFKC)), "id", 'email' FROM "users" ORDER BY "id"
      ON CONFLICT DO NOTHING`);
    await queryRunner.query(`
      INSERT INTO "login_identifiers" ("identifier", "user_id", "kind")
      SELECT CASE WHEN strpos("name", '@') > 0 THEN lower("name") ELSE "name" END, "id", 'username'
        FROM (SELECT "id", normalize("username", NFKC) AS "name" FROM "users") AS "named" ORDER BY "id"
      ON CONFLICT DO NOTHING`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "login_identifiers"`);
  }
}
