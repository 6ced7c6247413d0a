import { describe, expect, it } from '@jest/globals';
import type { DjangoUser } from './django-source.js';
import { type ImportedState, type LocalState, type LocalUser, placeholderEmail, planImport } from './import-plan.js';

const HASH = 'pbkdf2_sha256$260000$salt$hash=';
let nextId = 1;
function djangoUser(overrides: Partial<DjangoUser> = {}): DjangoUser {
  const id = overrides.id ?? nextId++;
  return {
    id,
    username: `user${id}`,
    email: `user${id}@example.com`,
    password: HASH,
    isActive: true,
    dateJoined: new Date('2024-01-01T00:00:00Z'),
    lastLogin: null,
    ...overrides,
  };
}
const emptyLocal = (): LocalState => ({ users: new Map(), imported: new Map(), identifiers: new Map() });
const off = { placeholderEmails: false };

/** The service's state right after importing `users` (what a first run writes). */
function importedLocal(users: DjangoUser[]): LocalState {
  const local = emptyLocal();
  for (const user of users) {
    const state: ImportedState = { username: user.username.normalize('NFKC'), email: user.email.toLowerCase(), password: user.password, isActive: user.isActive };
    local.users.set(user.id, { id: user.id, ...state, lastLogin: user.lastLogin });
    local.imported.set(user.id, { ...state });
  }
  return local;
}
const hereOnly = (local: LocalState, user: LocalUser) => local.users.set(user.id, user);

describe('planImport: conflicts (each stops the run)', () => {
  it('two Django e-mails differing only in case', () => {
    const a = djangoUser({ email: 'Ann@Example.com' });
    const b = djangoUser({ email: 'ann@example.COM' });
    const plan = planImport([a, b, djangoUser()], emptyLocal(), off);
    expect(plan.conflicts).toEqual([expect.objectContaining({ kind: 'duplicate-email', userIds: [a.id, b.id] })]);
  });

  it('--placeholder-emails resolves blank and shared addresses; the lowest id keeps a shared one', () => {
    const a = djangoUser({ email: 'Ann@Example.com' });
    const b = djangoUser({ email: 'ann@example.COM' });
    const blank = djangoUser({ email: '' });
    expect(planImport([a, b, blank], emptyLocal(), off).conflicts.map((c) => c.kind).sort()).toEqual(['blank-email', 'duplicate-email']);
    const plan = planImport([b, a, blank], emptyLocal(), { placeholderEmails: true });
    expect(plan.conflicts).toEqual([]);
    expect(plan.placeholders).toEqual(
      expect.arrayContaining([
        { id: blank.id, reason: 'blank', email: placeholderEmail(blank.id) },
        { id: b.id, reason: 'shared', email: placeholderEmail(b.id) },
      ]),
    );
    expect(plan.inserts.find((user) => user.id === a.id)?.email).toBe('ann@example.com');
  });

  it('a username already taken here by another id', () => {
    const local = emptyLocal();
    hereOnly(local, { id: 900, username: 'carol', email: 'carol@here.test', password: 'x', isActive: true, lastLogin: null });
    const plan = planImport([djangoUser({ username: 'carol' })], local, off);
    expect(plan.conflicts).toEqual([expect.objectContaining({ kind: 'username-taken-here' })]);
    expect(plan.conflicts[0].userIds).toContain(900);
  });

  it('usernames that are one under NFKC (Django keeps both when they predate normalize_username)', () => {
    const plan = planImport([djangoUser({ username: 'zoë' }), djangoUser({ username: 'zoe\u0308' })], emptyLocal(), off);
    expect(plan.conflicts).toEqual([expect.objectContaining({ kind: 'username-nfkc' })]);
  });

  it('an identifier that would reach two accounts (a username equal to another account\'s address)', () => {
    const plan = planImport([djangoUser({ username: 'Dave@Example.com' }), djangoUser({ email: 'dave@example.com' })], emptyLocal(), off);
    expect(plan.conflicts).toEqual([expect.objectContaining({ kind: 'identifier-two-accounts' })]);
  });

  it('a login_identifiers row held by another account counts, even when the columns do not show it', () => {
    const local = emptyLocal();
    hereOnly(local, { id: 902, username: 'gina', email: 'gina@here.test', password: 'x', isActive: true, lastLogin: null });
    local.identifiers.set('gina-old@here.test', 902);
    const plan = planImport([djangoUser({ email: 'Gina-Old@here.test' })], local, off);
    expect(plan.conflicts).toEqual([expect.objectContaining({ kind: 'email-taken-here', userIds: [expect.any(Number), 902] })]);
  });

  it('an id that belongs here to an account that was not imported', () => {
    const local = emptyLocal();
    hereOnly(local, { id: 5, username: 'eve', email: 'eve@here.test', password: 'x', isActive: true, lastLogin: null });
    const plan = planImport([djangoUser({ id: 5 })], local, off);
    expect(plan.conflicts).toEqual([expect.objectContaining({ kind: 'id-taken-here', userIds: [5] })]);
  });

  it('a clean snapshot has none, and a username that is its own address is one identifier', () => {
    const plan = planImport([djangoUser({ username: 'frank@example.com', email: 'Frank@example.com' }), djangoUser()], emptyLocal(), off);
    expect(plan.conflicts).toEqual([]);
    expect(plan.inserts).toHaveLength(2);
  });
});

describe('planImport: reruns', () => {
  it('an unchanged snapshot plans nothing', () => {
    const users = [djangoUser(), djangoUser()];
    const plan = planImport(users, importedLocal(users), off);
    expect(plan).toMatchObject({ inserts: [], skipped: [], conflicts: [], lastLogins: [], alreadyEqual: [], unchanged: 2 });
    expect(Object.values(plan.updates).flat()).toEqual([]);
  });

  it('a password changed in Django is a compare-and-set from the hash the last run wrote', () => {
    const user = djangoUser();
    const local = importedLocal([user]);
    const plan = planImport([{ ...user, password: 'bcrypt$$2b$12$new' }], local, off);
    expect(plan.updates.password).toEqual([{ id: user.id, from: HASH, to: 'bcrypt$$2b$12$new' }]);
  });

  it('never overwrites what changed here: a hash upgraded at login, a flag changed here', () => {
    const user = djangoUser();
    const local = importedLocal([user]);
    local.users.get(user.id)!.password = '$argon2id$v=19$upgraded';
    local.users.get(user.id)!.isActive = false;
    const plan = planImport([{ ...user, password: 'pbkdf2_sha256$new', isActive: true, email: 'changed@example.com' }], local, off);
    expect(plan.updates.password).toEqual([]);
    expect(plan.updates.email).toEqual([{ id: user.id, from: user.email, to: 'changed@example.com' }]);
    expect(plan.skipped.map((skip) => skip.reason)).toEqual([
      expect.stringMatching(/^password changed in Django, but the hash here changed/),
    ]);
    // The active flag: Django says true as the last run wrote (unchanged in Django): nothing to bring.
    expect(plan.updates.isActive).toEqual([]);
  });

  it('Django changed it to what the service already has: bookkeeping only', () => {
    const user = djangoUser();
    const local = importedLocal([user]);
    local.users.get(user.id)!.isActive = false;
    const plan = planImport([{ ...user, isActive: false }], local, off);
    expect(plan.alreadyEqual).toEqual([{ id: user.id, field: 'isActive' }]);
    expect(plan.updates.isActive).toEqual([]);
  });

  it('an account deleted here is not brought back; one gone from Django is left alone', () => {
    const [kept, deleted, gone] = [djangoUser(), djangoUser(), djangoUser()];
    const local = importedLocal([kept, deleted, gone]);
    local.users.delete(deleted.id);
    const plan = planImport([kept, deleted], local, off);
    expect(plan.inserts).toEqual([]);
    expect(plan.skipped).toEqual([{ id: deleted.id, reason: expect.stringContaining('deleted here') }]);
    expect(plan.goneFromDjango).toBe(1);
  });

  it('last_login only moves forward', () => {
    const user = djangoUser({ lastLogin: new Date('2025-01-01T00:00:00Z') });
    const local = importedLocal([user]);
    expect(planImport([{ ...user, lastLogin: new Date('2024-01-01T00:00:00Z') }], local, off).lastLogins).toEqual([]);
    const later = new Date('2025-06-01T00:00:00Z');
    expect(planImport([{ ...user, lastLogin: later }], local, off).lastLogins).toEqual([{ id: user.id, lastLogin: later }]);
  });

  it('a username changed in Django to one taken here is a conflict', () => {
    const user = djangoUser();
    const local = importedLocal([user]);
    hereOnly(local, { id: 901, username: 'taken', email: 'taken@here.test', password: 'x', isActive: true, lastLogin: null });
    const plan = planImport([{ ...user, username: 'taken' }], local, off);
    expect(plan.conflicts).toEqual([expect.objectContaining({ kind: 'username-taken-here' })]);
  });
});
