import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import argon2 from 'argon2';
import bcrypt from 'bcrypt';
import { createHash, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import pLimit from 'p-limit';
import { passwordConfig } from '../../config/password.config.js';

/** OWASP Password Storage Cheat Sheet argon2id parameters (m=19 MiB, t=2, p=1). */
export const ARGON2_MEMORY_COST = 19456; // KiB
export const ARGON2_TIME_COST = 2;
export const ARGON2_PARALLELISM = 1;
/** Argon2 version 1.3, the only version new hashes are made with. */
export const ARGON2_VERSION = 0x13;

export const ARGON2_OPTIONS = {
  type: argon2.argon2id,
  memoryCost: ARGON2_MEMORY_COST,
  timeCost: ARGON2_TIME_COST,
  parallelism: ARGON2_PARALLELISM,
} as const;

/** Upper bound on PBKDF2 iterations accepted from a stored hash (Django 6.0 uses 1,200,000). */
export const PBKDF2_MAX_ITERATIONS = 10_000_000;

export interface PasswordVerifyResult {
  ok: boolean;
  /** True only when ok and the stored hash should be replaced by `hash(plain)`. */
  needsRehash: boolean;
}

const fail = (): PasswordVerifyResult => ({ ok: false, needsRehash: false });

/** Django's PBKDF2 hashers: algorithm name → digest and key length (Django's dklen=None: the digest's size). */
const DJANGO_PBKDF2 = {
  pbkdf2_sha256: { digest: 'sha256', keyLength: 32 },
  pbkdf2_sha1: { digest: 'sha1', keyLength: 20 },
} as const;
type DjangoPbkdf2Algorithm = keyof typeof DJANGO_PBKDF2;

/** Django's Argon2PasswordHasher stores `argon2` followed by argon2-cffi's PHC string (`argon2$argon2id$v=19$m=…`). */
const DJANGO_ARGON2_PREFIX = 'argon2$';
/** Django's BCryptSHA256PasswordHasher (`bcrypt_sha256$$2b$12$…`) and BCryptPasswordHasher (`bcrypt$$2b$12$…`). */
const DJANGO_BCRYPT_SHA256_PREFIX = 'bcrypt_sha256$';
const DJANGO_BCRYPT_PREFIX = 'bcrypt$';
/** A bcrypt string as the bcrypt library reads it: `$2a$`/`$2b$`, cost, 22 characters of salt, 31 of hash. */
const BCRYPT_PATTERN = /^\$2[ab]\$\d{2}\$[./A-Za-z0-9]{53}$/;

interface Argon2Params {
  id: string;
  version: number;
  m: number;
  t: number;
  p: number;
}

/**
 * Parses the PHC header of an argon2 hash: `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`.
 * Parameter order varies between implementations (node-argon2 writes `m,p,t`); the `v=` segment
 * is absent for Argon2 1.0 hashes. Returns null when the string is not well formed.
 */
function parseArgon2(stored: string): Argon2Params | null {
  const fields = stored.split('$');
  if (fields[0] !== '' || !/^argon2(?:id|i|d)$/.test(fields[1] ?? '')) return null;
  let rest = fields.slice(2);
  let version = 0x10;
  if (rest[0]?.startsWith('v=')) {
    const v = /^v=(\d{1,10})$/.exec(rest[0]);
    if (!v) return null;
    version = Number(v[1]);
    rest = rest.slice(1);
  }
  if (rest.length !== 3 || !rest[1] || !rest[2]) return null;
  const params = new Map<string, string>();
  for (const pair of rest[0].split(',')) {
    const [key, value, extra] = pair.split('=');
    if (!key || value === undefined || extra !== undefined || params.has(key)) return null;
    params.set(key, value);
  }
  const numeric = (key: string): number | null => {
    const value = params.get(key);
    return value !== undefined && /^\d{1,10}$/.test(value) ? Number(value) : null;
  };
  const m = numeric('m');
  const t = numeric('t');
  const p = numeric('p');
  if (m === null || t === null || p === null) return null;
  return { id: fields[1], version, m, t, p };
}

const pbkdf2Async = (password: string, salt: string, iterations: number, algorithm: DjangoPbkdf2Algorithm): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const { digest, keyLength } = DJANGO_PBKDF2[algorithm];
    pbkdf2(password, salt, iterations, keyLength, digest, (err, key) => (err ? reject(err) : resolve(key)));
  });

function constantTimeStringEqual(a: string, b: string): boolean {
  const bufA = Buffer.from(a, 'utf8');
  const bufB = Buffer.from(b, 'utf8');
  return bufA.length === bufB.length && timingSafeEqual(bufA, bufB);
}

/**
 * Hashes and verifies passwords. New hashes are argon2id (PHC string). The hashes of the Django
 * system still verify and are flagged for rehash: `pbkdf2_sha256$`, `pbkdf2_sha1$`, `argon2$`,
 * `bcrypt_sha256$` and `bcrypt$` (Django's own formats, as `npm run import:django` copies them);
 * Django's unusable passwords (`!…`) never verify. argon2, pbkdf2 and bcrypt all run on libuv's
 * thread pool, off the event loop. Never logs passwords or stored hashes.
 */
@Injectable()
export class PasswordHasher {
  private dummyHash: Promise<string> | null = null;
  /** Queues argon2 work beyond ARGON2_MAX_CONCURRENCY (first come, first served; see config/password.config.ts). */
  private readonly argon2Slots: ReturnType<typeof pLimit>;

  constructor(@Inject(passwordConfig.KEY) config: ConfigType<typeof passwordConfig>) {
    this.argon2Slots = pLimit(config.argon2MaxConcurrency);
  }

  /** argon2id PHC string, e.g. `$argon2id$v=19$m=19456,p=1,t=2$<salt>$<hash>` (node-argon2 writes m,p,t). */
  hash(plain: string): Promise<string> {
    return this.argon2Slots(() => argon2.hash(plain, ARGON2_OPTIONS));
  }

  /** Checks `plain` against a stored hash. Never throws: malformed/unknown stored values give ok false. */
  async verify(stored: string, plain: string): Promise<PasswordVerifyResult> {
    try {
      if (typeof stored !== 'string' || typeof plain !== 'string') return fail();
      if (stored.startsWith('$argon2')) return await this.verifyArgon2(stored, plain);
      const algorithm = stored.slice(0, stored.indexOf('$'));
      if (algorithm === 'pbkdf2_sha256' || algorithm === 'pbkdf2_sha1') return await this.verifyDjangoPbkdf2(algorithm, stored, plain);
      if (stored.startsWith(DJANGO_ARGON2_PREFIX)) {
        // Same PHC string behind Django's prefix; always rehashed, so every stored hash ends up in one format.
        const { ok } = await this.verifyArgon2(stored.slice(DJANGO_ARGON2_PREFIX.length - 1), plain);
        return ok ? { ok: true, needsRehash: true } : fail();
      }
      if (stored.startsWith(DJANGO_BCRYPT_SHA256_PREFIX)) {
        // Django hashes the password with SHA-256 first (hex digest) so bcrypt's 72-byte limit does not cut it.
        const prehashed = createHash('sha256').update(plain, 'utf8').digest('hex');
        return await this.verifyBcrypt(stored.slice(DJANGO_BCRYPT_SHA256_PREFIX.length), prehashed);
      }
      if (stored.startsWith(DJANGO_BCRYPT_PREFIX)) return await this.verifyBcrypt(stored.slice(DJANGO_BCRYPT_PREFIX.length), plain);
      // Django unusable passwords ("!..."), empty values and unknown algorithms.
      return fail();
    } catch {
      return fail();
    }
  }

  /**
   * Spends the same work as verifying a real argon2id hash, for logins of unknown users.
   * The dummy hash is made once, lazily, with the current parameters. Never throws.
   */
  async burn(plain: string): Promise<void> {
    try {
      const dummy = await this.getDummyHash();
      await this.argon2Slots(() => argon2.verify(dummy, typeof plain === 'string' ? plain : ''));
    } catch {
      // Intentionally ignored: burn() is only about spending time.
    }
  }

  private getDummyHash(): Promise<string> {
    if (this.dummyHash === null) {
      const pending = this.hash(randomBytes(32).toString('base64'));
      this.dummyHash = pending;
      pending.catch(() => {
        if (this.dummyHash === pending) this.dummyHash = null; // retry on the next call
      });
    }
    return this.dummyHash;
  }

  private async verifyArgon2(stored: string, plain: string): Promise<PasswordVerifyResult> {
    const params = parseArgon2(stored);
    if (!params) return fail();
    const ok = await this.argon2Slots(() => argon2.verify(stored, plain));
    if (!ok) return fail();
    // Rehash when weaker than current: not argon2id, older Argon2 version, less memory or fewer passes.
    // (Parallelism does not change the total work for a given m and t, so it is not compared.)
    const needsRehash =
      params.id !== 'argon2id' ||
      params.version < ARGON2_VERSION ||
      params.m < ARGON2_MEMORY_COST ||
      params.t < ARGON2_TIME_COST;
    return { ok: true, needsRehash };
  }

  /** bcrypt (the native library: it runs on libuv's thread pool like argon2). Always rehashed to argon2id. */
  private async verifyBcrypt(bcryptHash: string, plain: string): Promise<PasswordVerifyResult> {
    if (!BCRYPT_PATTERN.test(bcryptHash)) return fail();
    return (await bcrypt.compare(plain, bcryptHash)) ? { ok: true, needsRehash: true } : fail();
  }

  /**
   * Django's PBKDF2PasswordHasher and PBKDF2SHA1PasswordHasher:
   * `pbkdf2_sha256$<iterations>$<salt>$<base64(pbkdf2 key, 32 bytes)>` (`pbkdf2_sha1`: 20 bytes).
   * Like Django, the re-encoded string is compared to the stored one in constant time.
   */
  private async verifyDjangoPbkdf2(algorithm: DjangoPbkdf2Algorithm, stored: string, plain: string): Promise<PasswordVerifyResult> {
    const parts = stored.split('$');
    if (parts.length !== 4) return fail();
    const [, iterationsText, salt, expected] = parts;
    if (!/^[1-9]\d{0,9}$/.test(iterationsText) || !salt || !expected) return fail();
    const iterations = Number(iterationsText);
    if (iterations > PBKDF2_MAX_ITERATIONS) return fail();
    const derived = await pbkdf2Async(plain, salt, iterations, algorithm);
    const encoded = `${algorithm}$${iterations}$${salt}$${derived.toString('base64')}`;
    const ok = constantTimeStringEqual(encoded, stored);
    return ok ? { ok: true, needsRehash: true } : fail();
  }
}
