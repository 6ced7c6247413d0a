import { loginKey, normalizeUsername } from '../users/login-identifier.js';
import type { DjangoUser } from './django-source.js';

/** An account as the service stores it now. */
export interface LocalUser {
  id: number;
  username: string;
  email: string;
  password: string;
  isActive: boolean;
  lastLogin: Date | null;
}

/** What the previous runs wrote for an account (table django_import_users). */
export interface ImportedState {
  username: string;
  email: string;
  password: string;
  isActive: boolean;
}

export interface LocalState {
  users: Map<number, LocalUser>;
  imported: Map<number, ImportedState>;
  /**
   * login_identifiers rows (identifier → owner). Usually the users' own keys; but rows can also stand
   * for what the columns do not show (an identifier kept by its first owner when old data collided).
   */
  identifiers: Map<string, number>;
}

export interface ImportOptions {
  /**
   * Resolve the e-mail conflicts (a Django account without an address; Django accounts sharing one
   * address, in any case) by giving the accounts concerned a placeholder address (see placeholderEmail)
   * — the account with the lowest id keeps a shared address. Off by default: such conflicts stop the import.
   */
  placeholderEmails: boolean;
}

/** The classes of conflict; each stops the import (nothing written) unless an option resolves it. */
export type ConflictKind =
  | 'blank-email'
  | 'duplicate-email'
  | 'username-nfkc'
  | 'username-taken-here'
  | 'email-taken-here'
  | 'identifier-two-accounts'
  | 'id-taken-here';

export interface Conflict {
  kind: ConflictKind;
  /** The account ids involved (Django's ids; for a clash with an account made here, its id too). */
  userIds: number[];
  detail: string;
}

export type ImportedField = keyof ImportedState;

/** A compare-and-set update: set `field` to `to` only where the service still holds `from`. */
export interface FieldUpdate<T = string | boolean> {
  id: number;
  from: T;
  to: T;
}

export interface Skip {
  id: number;
  reason: string;
}

export interface ImportPlan {
  inserts: Array<LocalUser & { dateJoined: Date }>;
  updates: {
    username: FieldUpdate<string>[];
    email: FieldUpdate<string>[];
    password: FieldUpdate<string>[];
    isActive: FieldUpdate<boolean>[];
  };
  /** Accounts whose bookkeeping moves to Django's new value because the service already holds it. */
  alreadyEqual: Array<{ id: number; field: ImportedField }>;
  /** last_login moved forward (Django saw a later login than the service). */
  lastLogins: Array<{ id: number; lastLogin: Date }>;
  skipped: Skip[];
  conflicts: Conflict[];
  placeholders: Array<{ id: number; reason: 'blank' | 'shared'; email: string }>;
  unchanged: number;
  /** Accounts the service has (imported earlier) that are no longer in Django: left alone. */
  goneFromDjango: number;
  /** The desired (target) values of every Django account, for the bookkeeping. */
  desired: Map<number, ImportedState>;
}

/** Never deliverable (RFC 2606 reserves `.invalid`), unique per account, and says where it came from. */
export const placeholderEmail = (id: number) => `django-user-${id}@example.invalid`;

/** How a Django account's fields are stored here: NFKC username (Django's normalize_username), lower-case e-mail. */
function desiredOf(user: DjangoUser, email: string): ImportedState {
  return { username: normalizeUsername(user.username), email, password: user.password, isActive: user.isActive };
}

const IMPORTED_FIELDS: ImportedField[] = ['username', 'email', 'password', 'isActive'];

const CHANGED_HERE: Record<ImportedField, string> = {
  username: 'username changed in Django, but also here since the last import: kept the one here',
  email: 'e-mail changed in Django, but also here since the last import: kept the one here',
  password:
    'password changed in Django, but the hash here changed since the last import (upgraded to argon2id at login, or the password changed or reset here): kept the one here',
  isActive: 'active flag changed in Django, but also here since the last import: kept the one here',
};

/**
 * Decides what an import run does, from Django's snapshot and the service's state, without writing
 * anything. Pure: the writer then applies it with compare-and-set updates.
 */
export function planImport(django: DjangoUser[], local: LocalState, options: ImportOptions): ImportPlan {
  const plan: ImportPlan = {
    inserts: [],
    updates: { username: [], email: [], password: [], isActive: [] },
    alreadyEqual: [],
    lastLogins: [],
    skipped: [],
    conflicts: [],
    placeholders: [],
    unchanged: 0,
    goneFromDjango: 0,
    desired: new Map(),
  };

  const emails = resolveEmails(django, options, plan);

  // The accounts as they will be after this run: each account's (username, e-mail) pair.
  const finalAccounts = new Map<number, { username: string; email: string; fromDjango: boolean; changed: boolean }>();
  for (const user of local.users.values()) {
    finalAccounts.set(user.id, { username: user.username, email: user.email, fromDjango: local.imported.has(user.id), changed: false });
  }

  const djangoIds = new Set<number>();
  for (const user of django) {
    djangoIds.add(user.id);
    const email = emails.get(user.id);
    if (email === undefined) continue; // an unresolved e-mail conflict, already reported
    const desired = desiredOf(user, email);
    plan.desired.set(user.id, desired);
    const here = local.users.get(user.id);
    const state = local.imported.get(user.id);
    if (!state) {
      if (here) {
        plan.conflicts.push({
          kind: 'id-taken-here',
          userIds: [user.id],
          detail: `id ${user.id} belongs here to an account that was not imported (registered before the id sequence moved past Django's ids)`,
        });
        continue;
      }
      const insert = { id: user.id, ...desired, lastLogin: user.lastLogin, dateJoined: user.dateJoined };
      plan.inserts.push(insert);
      finalAccounts.set(user.id, { username: desired.username, email: desired.email, fromDjango: true, changed: true });
      continue;
    }
    if (!here) {
      plan.skipped.push({ id: user.id, reason: 'deleted here after an earlier import: not brought back' });
      continue;
    }
    let changed = false;
    const account = finalAccounts.get(user.id)!;
    for (const field of IMPORTED_FIELDS) {
      if (desired[field] === state[field]) continue; // Django did not change it since the last run
      changed = true;
      if (here[field] === desired[field]) {
        plan.alreadyEqual.push({ id: user.id, field });
      } else if (here[field] === state[field]) {
        (plan.updates[field] as FieldUpdate[]).push({ id: user.id, from: state[field], to: desired[field] });
        if (field === 'username' || field === 'email') {
          account[field] = desired[field];
          account.changed = true;
        }
      } else {
        plan.skipped.push({ id: user.id, reason: CHANGED_HERE[field] });
      }
    }
    if (user.lastLogin && (!here.lastLogin || user.lastLogin > here.lastLogin)) {
      plan.lastLogins.push({ id: user.id, lastLogin: user.lastLogin });
      changed = true;
    }
    if (!changed) plan.unchanged += 1;
  }
  for (const id of local.imported.keys()) if (local.users.has(id) && !djangoIds.has(id)) plan.goneFromDjango += 1;

  findIdentifierConflicts(finalAccounts, local.identifiers, plan);
  return plan;
}

/**
 * The address each Django account will have here (lower case), or a conflict: this service needs
 * one address per account and compares addresses case-insensitively; Django needs neither.
 */
function resolveEmails(django: DjangoUser[], options: ImportOptions, plan: ImportPlan): Map<number, string> {
  const result = new Map<number, string>();
  const byAddress = new Map<string, DjangoUser[]>();
  for (const user of django) {
    const address = user.email.trim() === '' ? '' : user.email.toLowerCase();
    if (address === '') {
      if (options.placeholderEmails) {
        result.set(user.id, placeholderEmail(user.id));
        plan.placeholders.push({ id: user.id, reason: 'blank', email: placeholderEmail(user.id) });
      } else {
        plan.conflicts.push({ kind: 'blank-email', userIds: [user.id], detail: `Django account ${user.id} has no e-mail address; every account here needs one` });
      }
      continue;
    }
    const key = loginKey(address);
    const group = byAddress.get(key);
    if (group) group.push(user);
    else byAddress.set(key, [user]);
    result.set(user.id, address);
  }
  for (const group of byAddress.values()) {
    if (group.length < 2) continue;
    // Ordered by id: the oldest account keeps the address, whatever run decides it, so reruns agree.
    const [keeper, ...others] = [...group].sort((a, b) => a.id - b.id);
    if (options.placeholderEmails) {
      for (const user of others) {
        result.set(user.id, placeholderEmail(user.id));
        plan.placeholders.push({ id: user.id, reason: 'shared', email: placeholderEmail(user.id) });
      }
    } else {
      plan.conflicts.push({
        kind: 'duplicate-email',
        userIds: group.map((user) => user.id).sort((a, b) => a - b),
        detail: `Django accounts ${group.map((user) => user.id).join(', ')} share the e-mail address of account ${keeper.id} (differing at most in case); addresses are unique here`,
      });
      for (const user of group) result.delete(user.id);
    }
  }
  return result;
}

/**
 * One identifier, one account: every username and address (keyed as logins compare them) of the
 * accounts after this run must name one account. Only clashes that involve an account this run
 * inserts or changes are this run's conflicts.
 */
function findIdentifierConflicts(
  accounts: Map<number, { username: string; email: string; fromDjango: boolean; changed: boolean }>,
  identifiers: Map<string, number>,
  plan: ImportPlan,
): void {
  const owners = new Map<string, Array<{ id: number; kind: 'username' | 'email' }>>();
  for (const [id, account] of accounts) {
    const usernameKey = loginKey(account.username);
    const emailKey = loginKey(account.email);
    for (const [key, kind] of [[usernameKey, 'username'], [emailKey, 'email']] as const) {
      if (kind === 'email' && key === usernameKey) continue; // a username that is its own address: one identifier
      const list = owners.get(key);
      if (list) list.push({ id, kind });
      else owners.set(key, [{ id, kind }]);
    }
  }
  // A row of login_identifiers owned by an account this run leaves as it is counts as a claim of that account.
  for (const [key, list] of owners) {
    const owner = identifiers.get(key);
    const ownerAccount = owner === undefined ? undefined : accounts.get(owner);
    if (owner !== undefined && !ownerAccount?.changed && !list.some((entry) => entry.id === owner)) {
      list.push({ id: owner, kind: key.includes('@') ? 'email' : 'username' });
      if (!ownerAccount) accounts.set(owner, { username: '', email: '', fromDjango: false, changed: false });
    }
  }
  const reported = new Set<string>();
  for (const [key, list] of owners) {
    const ids = [...new Set(list.map((owner) => owner.id))].sort((a, b) => a - b);
    if (ids.length < 2 || !ids.some((id) => accounts.get(id)!.changed)) continue;
    const signature = `${ids.join(',')}:${key}`;
    if (reported.has(signature)) continue;
    reported.add(signature);
    const kinds = new Set(list.map((owner) => owner.kind));
    const hereOnly = ids.filter((id) => !accounts.get(id)!.fromDjango);
    let kind: ConflictKind;
    if (kinds.size === 1 && hereOnly.length > 0) kind = kinds.has('username') ? 'username-taken-here' : 'email-taken-here';
    else if (kinds.size === 1 && kinds.has('username')) kind = 'username-nfkc';
    else if (kinds.size === 1) kind = 'duplicate-email';
    else kind = 'identifier-two-accounts';
    const who = list.map((owner) => `${owner.id} (${owner.kind}${accounts.get(owner.id)!.fromDjango ? '' : ', made here'})`).join(', ');
    plan.conflicts.push({ kind, userIds: ids, detail: `one login identifier would reach several accounts: ${who}` });
  }
}
