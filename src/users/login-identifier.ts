/**
 * How usernames and login identifiers are compared. One rule everywhere (registration, login, the
 * lookup cache, the login budgets, the `login_identifiers` table), so that no string can name one
 * account as a username and another as an e-mail address.
 */

/** Django's normalize_username (AbstractBaseUser.normalize_username): NFKC, so full-width and combining-mark twins are one name. */
export const normalizeUsername = (value: string): string => value.normalize('NFKC');

/**
 * The key a login identifier is stored and looked up under: NFKC, and lower case when it contains
 * an `@` — e-mail addresses are case-insensitive, and a username that looks like an address is keyed
 * the same way, so `Carol@Example.com` as a username collides with `carol@example.com` as an e-mail.
 * Usernames without `@` stay case-sensitive, as in Django.
 */
export function loginKey(identifier: string): string {
  const normalized = identifier.normalize('NFKC');
  return normalized.includes('@') ? normalized.toLowerCase() : normalized;
}

/**
 * The `login_identifiers` rows of an account: its username's key, plus its e-mail's key unless the
 * two are the same string. Registration and the Django import both write exactly these.
 */
export function loginIdentifiersOf(user: { username: string; email: string }): Array<[string, 'username' | 'email']> {
  const rows: Array<[string, 'username' | 'email']> = [[loginKey(user.username), 'username']];
  if (loginKey(user.email) !== rows[0][0]) rows.push([loginKey(user.email), 'email']);
  return rows;
}
