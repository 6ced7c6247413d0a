import { describe, it, expect, beforeAll } from '@jest/globals';
import argon2 from 'argon2';
import bcrypt from 'bcrypt';
import { createHash, pbkdf2Sync, randomBytes } from 'node:crypto';
import {
  ARGON2_MEMORY_COST,
  ARGON2_OPTIONS,
  ARGON2_PARALLELISM,
  ARGON2_TIME_COST,
  PasswordHasher,
} from './password-hasher.service.js';

/** Builds a hash exactly as Django's PBKDF2PasswordHasher.encode() does. */
function djangoPbkdf2(password: string, salt: string, iterations: number): string {
  const hash = pbkdf2Sync(password, salt, iterations, 32, 'sha256').toString('base64');
  return `pbkdf2_sha256$${iterations}$${salt}$${hash}`;
}

describe('PasswordHasher', () => {
  const hasher = new PasswordHasher({ argon2MaxConcurrency: 4 });
  const password = 'correct horse battery staple \u00e9\u{1F600}';
  let stored: string;

  beforeAll(async () => {
    stored = await hasher.hash(password);
  });

  describe('argon2id', () => {
    it('produces a PHC argon2id string with the OWASP parameters', () => {
      expect(stored.startsWith('$argon2id$v=19$')).toBe(true);
      // node-argon2 writes the parameters as m,p,t; compare them as a set.
      const params = stored.split('$')[3].split(',').sort();
      expect(params).toEqual([`m=${ARGON2_MEMORY_COST}`, `p=${ARGON2_PARALLELISM}`, `t=${ARGON2_TIME_COST}`]);
      expect(ARGON2_MEMORY_COST).toBe(19456);
      expect(ARGON2_TIME_COST).toBe(2);
      expect(ARGON2_PARALLELISM).toBe(1);
      expect(stored.split('$')).toHaveLength(6);
    });

    it('uses a random salt (two hashes of the same password differ)', async () => {
      expect(await hasher.hash(password)).not.toBe(stored);
    });

    it('verifies the right password without asking for a rehash', async () => {
      await expect(hasher.verify(stored, password)).resolves.toEqual({ ok: true, needsRehash: false });
    });

    it('rejects a wrong password', async () => {
      await expect(hasher.verify(stored, 'correct horse battery stapl')).resolves.toEqual({
        ok: false,
        needsRehash: false,
      });
      await expect(hasher.verify(stored, '')).resolves.toEqual({ ok: false, needsRehash: false });
    });

    it('asks for a rehash of a valid hash made with weaker parameters (t=1)', async () => {
      const weak = await argon2.hash('hunter2-weak', {
        type: argon2.argon2id,
        memoryCost: ARGON2_MEMORY_COST,
        timeCost: 1,
        parallelism: 1,
      });
      expect(weak.split('$')[3].split(',')).toContain('t=1');
      await expect(hasher.verify(weak, 'hunter2-weak')).resolves.toEqual({ ok: true, needsRehash: true });
      await expect(hasher.verify(weak, 'hunter2-wrong')).resolves.toEqual({ ok: false, needsRehash: false });
    });

    it('accepts the reference m,t,p parameter order (e.g. hashes from argon2-cffi / libargon2)', async () => {
      const fields = stored.split('$');
      fields[3] = `m=${ARGON2_MEMORY_COST},t=${ARGON2_TIME_COST},p=${ARGON2_PARALLELISM}`;
      const reordered = fields.join('$');
      expect(reordered).not.toBe(stored);
      await expect(hasher.verify(reordered, password)).resolves.toEqual({ ok: true, needsRehash: false });
    });

    it('does not ask for a rehash of a stronger hash (t=3)', async () => {
      const strong = await argon2.hash('stronger-pw', { ...ARGON2_OPTIONS, timeCost: 3 });
      await expect(hasher.verify(strong, 'stronger-pw')).resolves.toEqual({ ok: true, needsRehash: false });
    });

    it('asks for a rehash of an argon2i hash', async () => {
      const argon2i = await argon2.hash('legacy-argon2i', {
        type: argon2.argon2i,
        memoryCost: 1024,
        timeCost: 1,
        parallelism: 1,
      });
      expect(argon2i.startsWith('$argon2i$')).toBe(true);
      await expect(hasher.verify(argon2i, 'legacy-argon2i')).resolves.toEqual({ ok: true, needsRehash: true });
    });
  });

  describe('Django pbkdf2_sha256', () => {
    const iterations = 1000; // kept small for test speed; the format is what matters
    const salt = 'Xq3kPz0mXyVb2nTs';
    const django = djangoPbkdf2('s3cret-django-pw', salt, iterations);

    it('builds the hash in Django format', () => {
      expect(django).toMatch(/^pbkdf2_sha256\$1000\$Xq3kPz0mXyVb2nTs\$[A-Za-z0-9+/]{43}=$/);
    });

    it('verifies a Django hash and asks for a rehash to argon2id', async () => {
      await expect(hasher.verify(django, 's3cret-django-pw')).resolves.toEqual({ ok: true, needsRehash: true });
    });

    it('verifies non-ASCII passwords (UTF-8, like Django force_bytes)', async () => {
      const pw = 'p\u00e4ssw\u00f6rd-\u65e5\u672c';
      const h = djangoPbkdf2(pw, 'abcdefgh', 10);
      await expect(hasher.verify(h, pw)).resolves.toEqual({ ok: true, needsRehash: true });
    });

    it('rejects a wrong password', async () => {
      await expect(hasher.verify(django, 's3cret-django-pW')).resolves.toEqual({ ok: false, needsRehash: false });
    });

    it('rejects a tampered iteration count or salt', async () => {
      await expect(hasher.verify(django.replace('$1000$', '$1001$'), 's3cret-django-pw')).resolves.toMatchObject({
        ok: false,
      });
      await expect(hasher.verify(django.replace('$1000$', '$01000$'), 's3cret-django-pw')).resolves.toMatchObject({
        ok: false,
      });
      await expect(hasher.verify(django.replace(salt, `${salt}x`), 's3cret-django-pw')).resolves.toMatchObject({
        ok: false,
      });
    });
  });

  describe('malformed and unusable stored values', () => {
    const cases: Array<[string, string]> = [
      ['empty string', ''],
      ['Django unusable password', '!Ab3dEfGhIjKlMnOpQrStUvWxYz0123456789abcd'],
      ['unknown algorithm', 'bcrypt_sha256$$2b$12$abcdefghijklmnopqrstuv'],
      ['plain text', 'password'],
      ['pbkdf2 missing parts', 'pbkdf2_sha256$1000$salt'],
      ['pbkdf2 too many parts', 'pbkdf2_sha256$1000$salt$aGFzaA==$extra'],
      ['pbkdf2 non-numeric iterations', 'pbkdf2_sha256$abc$salt$aGFzaA=='],
      ['pbkdf2 zero iterations', 'pbkdf2_sha256$0$salt$aGFzaA=='],
      ['pbkdf2 negative iterations', 'pbkdf2_sha256$-5$salt$aGFzaA=='],
      ['pbkdf2 empty salt', 'pbkdf2_sha256$1000$$aGFzaA=='],
      ['pbkdf2 absurd iterations', 'pbkdf2_sha256$99999999999$salt$aGFzaA=='],
      ['argon2 garbage', '$argon2id$garbage'],
      ['argon2 truncated', '$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ'],
      ['argon2 bad parameters', '$argon2id$v=19$m=1,t=0,p=0$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g'],
      ['argon2 unknown variant', '$argon2x$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaA'],
    ];

    it.each(cases)('%s gives ok false without throwing', async (_label, value) => {
      await expect(hasher.verify(value, 'password')).resolves.toEqual({ ok: false, needsRehash: false });
    });

    it('non-string inputs give ok false without throwing', async () => {
      await expect(hasher.verify(undefined as unknown as string, 'x')).resolves.toEqual({ ok: false, needsRehash: false });
      await expect(hasher.verify(stored, undefined as unknown as string)).resolves.toEqual({
        ok: false,
        needsRehash: false,
      });
    });
  });

  describe('the other Django hashers (made here exactly as Django encodes them; the e2e suite uses a real Django)', () => {
    const plain = 'Django pässword \u{1F600}';
    const cases: Array<[string, () => Promise<string>]> = [
      ['pbkdf2_sha1', async () => `pbkdf2_sha1$1000$salty$${pbkdf2Sync(plain, 'salty', 1000, 20, 'sha1').toString('base64')}`],
      [
        'argon2 (Django: "argon2" + argon2-cffi\'s PHC string)',
        async () => `argon2${await argon2.hash(plain, { type: argon2.argon2id, memoryCost: 8192, timeCost: 1, parallelism: 2 })}`,
      ],
      ['bcrypt_sha256', async () => `bcrypt_sha256$${await bcrypt.hash(createHash('sha256').update(plain).digest('hex'), 4)}`],
      ['bcrypt', async () => `bcrypt$${await bcrypt.hash(plain, 4)}`],
    ];
    it.each(cases)('%s verifies, asks for the argon2id rehash, and refuses a wrong password', async (_name, make) => {
      const django = await make();
      await expect(hasher.verify(django, plain)).resolves.toEqual({ ok: true, needsRehash: true });
      await expect(hasher.verify(django, `${plain}!`)).resolves.toEqual({ ok: false, needsRehash: false });
    });

    it('bcrypt_sha256 is not plain bcrypt: the prefixes are not interchangeable', async () => {
      const plainBcrypt = await bcrypt.hash(plain, 4);
      await expect(hasher.verify(`bcrypt_sha256$${plainBcrypt}`, plain)).resolves.toEqual({ ok: false, needsRehash: false });
    });

    it('unusable (!…), truncated and malformed values never verify', async () => {
      const good = `bcrypt$${await bcrypt.hash(plain, 4)}`;
      for (const value of ['!', `!${good}`, good.slice(0, -1), 'bcrypt$', 'argon2$', 'argon2$argon2id$v=19$m=8,t=1,p=1$$', 'pbkdf2_sha1$0$s$h']) {
        await expect(hasher.verify(value, plain)).resolves.toEqual({ ok: false, needsRehash: false });
      }
    });
  });

  describe('burn', () => {
    it('resolves without a value and reuses one dummy hash', async () => {
      const fresh = new PasswordHasher({ argon2MaxConcurrency: 4 });
      const spy = countArgon2HashCalls();
      await expect(fresh.burn('whatever')).resolves.toBeUndefined();
      await expect(fresh.burn(randomBytes(8).toString('hex'))).resolves.toBeUndefined();
      expect(spy.calls()).toBe(1);
      spy.restore();
    });
  });
});

/**
 * Counts argon2.hash calls. The default import is the CommonJS module.exports object,
 * shared with the service, so patching it is visible there.
 */
function countArgon2HashCalls(): { calls: () => number; restore: () => void } {
  const target = argon2 as unknown as { hash: typeof argon2.hash };
  const original = target.hash;
  let count = 0;
  target.hash = ((...args: Parameters<typeof argon2.hash>) => {
    count += 1;
    return (original as (...a: unknown[]) => unknown)(...args);
  }) as typeof argon2.hash;
  return { calls: () => count, restore: () => void (target.hash = original) };
}
