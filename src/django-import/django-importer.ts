import { performance } from 'node:perf_hooks';
import pLimit from 'p-limit';
import type { DataSource, QueryRunner } from 'typeorm';
import { RevocationStore } from '../session/revocation-store.service.js';
import { loginIdentifiersOf } from '../users/login-identifier.js';
import { type ChangedAuthState, UsersService } from '../users/users.service.js';
import { type DjangoBlacklistedToken, type DjangoSnapshot, readDjangoSnapshot } from './django-source.js';
import {
  type Conflict,
  type FieldUpdate,
  type ImportedField,
  type ImportedState,
  type ImportOptions,
  type ImportPlan,
  type LocalState,
  type LocalUser,
  planImport,
  type Skip,
} from './import-plan.js';

/** Rows per INSERT/UPDATE statement (arrays through unnest). */
const BATCH = 5000;
const JTI_PATTERN = /^[0-9a-f]{32}$/;
/** Accounts whose caches and Redis state are refreshed at once after the commit. */
const AFTER_COMMIT_CONCURRENCY = 16;

export interface ImportRunOptions extends ImportOptions {
  dryRun: boolean;
  /**
   * Called once the plan is made and before anything is written (tests use it to race a login
   * against the import). Not called for dry runs or runs stopped by conflicts.
   */
  beforeWrite?: () => Promise<void>;
}

export interface ImportReport {
  dryRun: boolean;
  /** True when nothing was written because of conflicts (or because it was a dry run). */
  wroteNothing: boolean;
  djangoUsers: number;
  inserted: number;
  updated: Record<ImportedField, number>;
  lastLoginsMoved: number;
  unchanged: number;
  goneFromDjango: number;
  placeholders: ImportPlan['placeholders'];
  skipped: Skip[];
  conflicts: Conflict[];
  blacklist: {
    /** Django-blacklisted refresh tokens, not expired, new here (in a dry run: that would be new). */
    added: number;
    alreadyHere: number;
    expired: number;
    /** jti not simplejwt's uuid hex, or no user (deleted in Django): cannot name a token of this service. */
    unusable: number;
    /** Django had no token_blacklist tables. */
    noBlacklistApp: boolean;
  };
  /** Refresh tokens Django issued that are live and not blacklisted: honoured here until they expire (LEGACY_TOKENS). */
  liveDjangoRefreshTokens: number;
  /** The id sequence now starts after this id. */
  sequenceAfter: number | null;
  /** Wall time of the run: Django snapshot, plan, writes and commit. */
  durationMs: number;
}

/**
 * `npm run import:django`: copies Django's auth_user and simplejwt's blacklist into this service.
 * Every statement of the import is here (and the Django side in django-source.ts); the service's own
 * repositories are used only after the commit, to drop caches and mirror auth state to Redis.
 */
export class DjangoImporter {
  constructor(
    private readonly dataSource: DataSource,
    private readonly users: UsersService,
    private readonly revocation: RevocationStore,
  ) {}

  async run(fromUrl: string, options: ImportRunOptions): Promise<ImportReport> {
    const started = performance.now();
    const report = await this.runOnce(fromUrl, options);
    report.durationMs = Math.round(performance.now() - started);
    return report;
  }

  private async runOnce(fromUrl: string, options: ImportRunOptions): Promise<ImportReport> {
    const snapshot = await readDjangoSnapshot(fromUrl);
    const runner = this.dataSource.createQueryRunner('master');
    await runner.connect();
    try {
      await runner.startTransaction('READ COMMITTED');
      // No identifier can appear (a registration, an e-mail change) between the plan and the writes;
      // reads (logins) go on. Registrations wait for the commit.
      if (!options.dryRun) await runner.query('LOCK TABLE login_identifiers IN SHARE ROW EXCLUSIVE MODE');
      const local = await readLocalState(runner);
      const plan = planImport(snapshot.users, local, options);
      const report = emptyReport(snapshot, plan, options.dryRun);
      const usable = snapshot.blacklisted.filter((token) => JTI_PATTERN.test(token.jti) && token.userId !== null);
      report.blacklist.unusable = snapshot.blacklisted.length - usable.length;
      if (options.dryRun || plan.conflicts.length > 0) {
        const [{ fresh }] = await runner.query(
          'SELECT count(*)::int AS fresh FROM unnest($1::text[]) AS t(jti) WHERE NOT EXISTS (SELECT 1 FROM blacklisted_tokens b WHERE b.jti = t.jti)',
          [usable.map((token) => token.jti)],
        );
        report.blacklist.added = fresh;
        report.blacklist.alreadyHere = usable.length - fresh;
        await runner.rollbackTransaction();
        return report;
      }
      await options.beforeWrite?.();
      const changed = await this.write(runner, plan, local, usable, report);
      await runner.commitTransaction();
      report.wroteNothing = false;
      await this.afterCommit(changed);
      return report;
    } catch (error) {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      throw error;
    } finally {
      await runner.release();
    }
  }

  private async write(
    runner: QueryRunner,
    plan: ImportPlan,
    local: LocalState,
    blacklisted: DjangoBlacklistedToken[],
    report: ImportReport,
  ): Promise<ChangedUsers> {
    // New registrations must never take an id Django has: move the sequence past Django's ids first.
    let maxDjangoId = 0;
    for (const id of plan.desired.keys()) if (id > maxDjangoId) maxDjangoId = id;
    // (Sequences are not transactional: a run that then fails leaves only a gap in the ids.)
    const [{ after }] = await runner.query(
      `SELECT setval(seq, GREATEST(1, $1::int, (SELECT COALESCE(max(id), 0) FROM users), pg_sequence_last_value(seq))) AS after
         FROM (SELECT pg_get_serial_sequence('users', 'id')::regclass AS seq) AS s`,
      [maxDjangoId],
    );
    report.sequenceAfter = Number(after);

    for (let start = 0; start < plan.inserts.length; start += BATCH) {
      await insertUsers(runner, plan.inserts.slice(start, start + BATCH));
    }
    report.inserted = plan.inserts.length;
    report.updated = { username: 0, email: 0, password: 0, isActive: 0 };

    // Compare-and-set: each field changes only where the service still holds what the last run wrote.
    const succeeded = new Map<number, Set<ImportedField>>();
    const changed: ChangedUsers = { authState: new Map(), previous: new Map() };
    const note = (id: number, field: ImportedField) => {
      const fields = succeeded.get(id) ?? new Set<ImportedField>();
      fields.add(field);
      succeeded.set(id, fields);
    };
    for (const field of ['password', 'isActive', 'username', 'email'] as const) {
      const updates = plan.updates[field] as FieldUpdate[];
      for (let start = 0; start < updates.length; start += BATCH) {
        const batch = updates.slice(start, start + BATCH);
        const rows = await casUpdate(runner, field, batch);
        const done = new Set(rows.map((row) => row.id));
        for (const row of rows) {
          note(row.id, field);
          changed.authState.set(row.id, row);
          if (!changed.previous.has(row.id)) {
            const before = local.users.get(row.id)!;
            changed.previous.set(row.id, { username: before.username, email: before.email });
          }
        }
        for (const update of batch) {
          if (!done.has(update.id)) {
            plan.skipped.push({ id: update.id, reason: `${field} changed here while the import ran: kept the one here` });
          }
        }
        report.updated[field] += done.size;
      }
    }
    const renamed = [...changed.previous.keys()].filter((id) => succeeded.get(id)?.has('username') || succeeded.get(id)?.has('email'));
    await rebuildIdentifiers(runner, renamed.map((id) => changed.authState.get(id)!));
    for (const { id, field } of plan.alreadyEqual) note(id, field);

    // Bookkeeping: inserted accounts, and every field that now matches Django.
    const states: Array<{ id: number } & ImportedState> = plan.inserts.map((user) => ({ ...plan.desired.get(user.id)!, id: user.id }));
    for (const [id, fields] of succeeded) {
      const state = { ...local.imported.get(id)! };
      const desired = plan.desired.get(id)!;
      for (const field of fields) (state as Record<ImportedField, string | boolean>)[field] = desired[field];
      states.push({ id, ...state });
    }
    for (let start = 0; start < states.length; start += BATCH) await upsertStates(runner, states.slice(start, start + BATCH));

    for (let start = 0; start < plan.lastLogins.length; start += BATCH) {
      const batch = plan.lastLogins.slice(start, start + BATCH);
      await runner.query(
        `UPDATE users u SET last_login = GREATEST(u.last_login, c.last_login)
           FROM unnest($1::int[], $2::timestamptz[]) AS c(id, last_login) WHERE u.id = c.id`,
        [batch.map((row) => row.id), batch.map((row) => row.lastLogin)],
      );
    }
    report.lastLoginsMoved = plan.lastLogins.length;

    // A refresh token Django revoked stays revoked: its jti joins this service's blacklist.
    for (let start = 0; start < blacklisted.length; start += BATCH) {
      const batch = blacklisted.slice(start, start + BATCH);
      const [{ present }] = await runner.query('SELECT count(*)::int AS present FROM blacklisted_tokens WHERE jti = ANY($1::text[])', [
        batch.map((t) => t.jti),
      ]);
      report.blacklist.alreadyHere += present;
      const added: unknown[] = await runner.query(
        `INSERT INTO blacklisted_tokens (jti, user_id, expires_at, blacklisted_at)
         SELECT t.jti, t.user_id, t.expires_at, t.blacklisted_at
           FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::timestamptz[]) AS t(jti, user_id, expires_at, blacklisted_at)
          WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = t.user_id)
         ON CONFLICT (jti) DO NOTHING
         RETURNING jti`,
        [batch.map((t) => t.jti), batch.map((t) => t.userId), batch.map((t) => t.expiresAt), batch.map((t) => t.blacklistedAt)],
      );
      report.blacklist.added += added.length;
      // Neither added nor already here: the account is gone here (deleted after an earlier import).
      report.blacklist.unusable += batch.length - present - added.length;
    }
    report.skipped = plan.skipped;
    return changed;
  }

  /** Caches and the Redis mirror follow the committed changes (a missing Redis record is safe: it sends the check to PostgreSQL). */
  private async afterCommit(changed: ChangedUsers): Promise<void> {
    const limit = pLimit(AFTER_COMMIT_CONCURRENCY);
    await Promise.all(
      [...changed.authState].map(([id, state]) =>
        limit(async () => {
          await this.users.invalidate(state, changed.previous.get(id));
          await this.revocation.putUserState(id, state);
        }),
      ),
    );
  }
}

interface ChangedUsers {
  /** The state each changed account has after the commit. */
  authState: Map<number, ChangedAuthState>;
  previous: Map<number, { username: string; email: string }>;
}

function emptyReport(snapshot: DjangoSnapshot, plan: ImportPlan, dryRun: boolean): ImportReport {
  return {
    dryRun,
    wroteNothing: true,
    djangoUsers: snapshot.users.length,
    inserted: plan.inserts.length,
    updated: {
      username: plan.updates.username.length,
      email: plan.updates.email.length,
      password: plan.updates.password.length,
      isActive: plan.updates.isActive.length,
    },
    lastLoginsMoved: plan.lastLogins.length,
    unchanged: plan.unchanged,
    goneFromDjango: plan.goneFromDjango,
    placeholders: plan.placeholders,
    skipped: plan.skipped,
    conflicts: plan.conflicts,
    blacklist: { added: 0, alreadyHere: 0, expired: snapshot.expiredBlacklisted, unusable: 0, noBlacklistApp: !snapshot.hasBlacklistApp },
    liveDjangoRefreshTokens: snapshot.liveOutstanding,
    sequenceAfter: null,
    durationMs: 0,
  };
}

async function readLocalState(runner: QueryRunner): Promise<LocalState> {
  const users: Array<LocalUser> = await runner.query(
    `SELECT id, username, email, password, is_active AS "isActive", last_login AS "lastLogin" FROM users`,
  );
  const imported: Array<ImportedState & { id: number }> = await runner.query(
    `SELECT user_id AS id, username, email, password, is_active AS "isActive" FROM django_import_users`,
  );
  const identifiers: Array<{ identifier: string; user_id: number }> = await runner.query('SELECT identifier, user_id FROM login_identifiers');
  return {
    users: new Map(users.map((user) => [user.id, user])),
    imported: new Map(imported.map(({ id, ...state }) => [id, state])),
    identifiers: new Map(identifiers.map((row) => [row.identifier, row.user_id])),
  };
}

/** The login identifiers of an account, as registration writes them (one row when the username is the address). */
function identifierRows(user: { id: number; username: string; email: string }): Array<[string, number, 'username' | 'email']> {
  return loginIdentifiersOf(user).map(([identifier, kind]) => [identifier, user.id, kind]);
}

async function insertIdentifiers(runner: QueryRunner, rows: Array<[string, number, 'username' | 'email']>): Promise<void> {
  // No ON CONFLICT: the plan found no clash under the table lock, so a clash here is a bug and must fail the run.
  await runner.query(
    `INSERT INTO login_identifiers (identifier, user_id, kind)
     SELECT * FROM unnest($1::text[], $2::int[], $3::text[])`,
    [rows.map((row) => row[0]), rows.map((row) => row[1]), rows.map((row) => row[2])],
  );
}

async function insertUsers(runner: QueryRunner, users: ImportPlan['inserts']): Promise<void> {
  // OVERRIDING SYSTEM VALUE is not needed (GENERATED BY DEFAULT): explicit ids keep Django's ids.
  await runner.query(
    `INSERT INTO users (id, username, email, password, is_active, date_joined, last_login)
     SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::boolean[], $6::timestamptz[], $7::timestamptz[])`,
    [
      users.map((user) => user.id),
      users.map((user) => user.username),
      users.map((user) => user.email),
      users.map((user) => user.password),
      users.map((user) => user.isActive),
      users.map((user) => user.dateJoined),
      users.map((user) => user.lastLogin),
    ],
  );
  await insertIdentifiers(runner, users.flatMap(identifierRows));
}

const CAS_COLUMNS: Record<ImportedField, { column: string; type: string; bumpsAuthVersion: boolean }> = {
  password: { column: 'password', type: 'text', bumpsAuthVersion: true },
  isActive: { column: 'is_active', type: 'boolean', bumpsAuthVersion: true },
  username: { column: 'username', type: 'text', bumpsAuthVersion: false },
  email: { column: 'email', type: 'text', bumpsAuthVersion: false },
};

/**
 * `SET column = to WHERE column = from`, in one statement for the batch. A login that upgraded the
 * hash (UsersService.rehashPassword, itself a compare-and-set) after the plan was read makes the row
 * not match: the upgrade is kept. A password or active-flag change bumps auth_version, so the Redis
 * mirror written after the commit replaces any older record.
 */
async function casUpdate(runner: QueryRunner, field: ImportedField, batch: FieldUpdate[]): Promise<ChangedAuthState[]> {
  const { column, type, bumpsAuthVersion } = CAS_COLUMNS[field];
  const [rows]: [ChangedAuthState[], number] = await runner.query(
    `UPDATE users u SET ${column} = c.to_value${bumpsAuthVersion ? ', auth_version = u.auth_version + 1' : ''}
       FROM unnest($1::int[], $2::${type}[], $3::${type}[]) AS c(id, from_value, to_value)
      WHERE u.id = c.id AND u.${column} = c.from_value
      RETURNING u.id, u.username, u.email, u.is_active AS "isActive", u.tokens_valid_after AS "tokensValidAfter", u.auth_version AS "authVersion"`,
    [batch.map((update) => update.id), batch.map((update) => update.from), batch.map((update) => update.to)],
  );
  return rows;
}

async function rebuildIdentifiers(runner: QueryRunner, users: Array<{ id: number; username: string; email: string }>): Promise<void> {
  if (users.length === 0) return;
  await runner.query('DELETE FROM login_identifiers WHERE user_id = ANY($1::int[])', [users.map((user) => user.id)]);
  await insertIdentifiers(runner, users.flatMap(identifierRows));
}

async function upsertStates(runner: QueryRunner, states: Array<{ id: number } & ImportedState>): Promise<void> {
  await runner.query(
    `INSERT INTO django_import_users (user_id, username, email, password, is_active)
     SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::boolean[])
     ON CONFLICT (user_id) DO UPDATE
       SET username = EXCLUDED.username, email = EXCLUDED.email, password = EXCLUDED.password,
           is_active = EXCLUDED.is_active, last_changed_at = now()`,
    [
      states.map((state) => state.id),
      states.map((state) => state.username),
      states.map((state) => state.email),
      states.map((state) => state.password),
      states.map((state) => state.isActive),
    ],
  );
}
