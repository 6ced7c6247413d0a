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
