import pg from 'pg';

/** A row of Django's `auth_user`, as the import needs it. */
export interface DjangoUser {
  id: number;
  username: string;
  email: string;
  /** The hash exactly as Django stored it (`pbkdf2_sha256$…`, `argon2$…`, `bcrypt_sha256$…`, `!…` unusable). */
  password: string;
  isActive: boolean;
  dateJoined: Date;
  lastLogin: Date | null;
}

/** A refresh token simplejwt blacklisted (token_blacklist_blacklistedtoken joined to its outstanding token). */
export interface DjangoBlacklistedToken {
  jti: string;
  userId: number | null;
  expiresAt: Date;
  blacklistedAt: Date;
}

export interface DjangoSnapshot {
  users: DjangoUser[];
  /** Blacklisted refresh tokens that have not expired yet (expired ones are dead anyway). */
  blacklisted: DjangoBlacklistedToken[];
  /** Blacklisted tokens left out because they expired. */
  expiredBlacklisted: number;
  /** Outstanding (issued) refresh tokens still live and not blacklisted: honoured here until they expire. */
  liveOutstanding: number;
  /** False when the Django database has no token_blacklist tables (simplejwt's blacklist app not installed). */
  hasBlacklistApp: boolean;
}

/**
 * Reads the Django database in ONE snapshot: a REPEATABLE READ, READ ONLY transaction, so users and
 * blacklist rows agree with each other while Django keeps writing. Read only: nothing is ever written
 * to the Django side.
 */
export async function readDjangoSnapshot(url: string): Promise<DjangoSnapshot> {
  const client = new pg.Client({ connectionString: url, application_name: 'auth-import-django' });
  await client.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const users = await client.query<{
      id: number;
      username: string;
      email: string;
      password: string;
      is_active: boolean;
      date_joined: Date;
      last_login: Date | null;
    }>('SELECT id, username, email, password, is_active, date_joined, last_login FROM auth_user ORDER BY id');
    const [{ present }] = (
      await client.query<{ present: boolean }>(
        `SELECT to_regclass('token_blacklist_blacklistedtoken') IS NOT NULL
            AND to_regclass('token_blacklist_outstandingtoken') IS NOT NULL AS present`,
      )
    ).rows;
    let blacklisted: DjangoBlacklistedToken[] = [];
    let expiredBlacklisted = 0;
    let liveOutstanding = 0;
    if (present) {
      const rows = await client.query<{ jti: string; user_id: number | null; expires_at: Date; blacklisted_at: Date }>(
        `SELECT o.jti, o.user_id, o.expires_at, b.blacklisted_at
           FROM token_blacklist_blacklistedtoken b
           JOIN token_blacklist_outstandingtoken o ON o.id = b.token_id
          WHERE o.expires_at > now()
          ORDER BY b.id`,
      );
      blacklisted = rows.rows.map((row) => ({ jti: row.jti, userId: row.user_id, expiresAt: row.expires_at, blacklistedAt: row.blacklisted_at }));
      const [counts] = (
        await client.query<{ expired: string; live: string }>(
          `SELECT
             (SELECT count(*) FROM token_blacklist_blacklistedtoken b
                JOIN token_blacklist_outstandingtoken o ON o.id = b.token_id WHERE o.expires_at <= now()) AS expired,
             (SELECT count(*) FROM token_blacklist_outstandingtoken o
               WHERE o.expires_at > now()
                 AND NOT EXISTS (SELECT 1 FROM token_blacklist_blacklistedtoken b WHERE b.token_id = o.id)) AS live`,
        )
      ).rows;
      expiredBlacklisted = Number(counts.expired);
      liveOutstanding = Number(counts.live);
    }
    await client.query('COMMIT');
    return {
      users: users.rows.map((row) => ({
        id: row.id,
        username: row.username,
        email: row.email,
        password: row.password,
        isActive: row.is_active,
        dateJoined: row.date_joined,
        lastLogin: row.last_login,
      })),
      blacklisted,
      expiredBlacklisted,
      liveOutstanding,
      hasBlacklistApp: present,
    };
  } finally {
    await client.end();
  }
}
