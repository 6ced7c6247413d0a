import { describe, expect, it } from '@jest/globals';
import { loginKey, normalizeUsername } from './login-identifier.js';

describe('normalizeUsername (Django normalize_username: NFKC)', () => {
  it('folds full-width letters and composes combining marks', () => {
    expect(normalizeUsername('ａｌｉｃｅ')).toBe('alice');
    expect(normalizeUsername('zoe\u0308')).toBe('zo\u00eb');
    expect(normalizeUsername('\ufb01le')).toBe('file'); // the fi ligature
  });

  it('keeps case, as Django does', () => {
    expect(normalizeUsername('Alice')).toBe('Alice');
  });
});

describe('loginKey (how a login identifier is stored and compared)', () => {
  it('usernames without @ are NFKC and case-sensitive', () => {
    expect(loginKey('Alice')).toBe('Alice');
    expect(loginKey('Ａlice')).toBe('Alice');
    expect(loginKey('alice')).not.toBe(loginKey('Alice'));
  });

  it('anything with @ (an address, or a username that looks like one) is NFKC and lower case', () => {
    expect(loginKey('Carol@Example.COM')).toBe('carol@example.com');
    expect(loginKey('ｃarol＠example.com')).toBe('carol@example.com'); // full-width @ folds to @
  });

  it('is idempotent, so keys computed at registration and at login agree', () => {
    for (const value of ['Zoe\u0308', 'İstanbul@Example.com', 'ＭＩＸ@x.io', 'plain']) {
      expect(loginKey(loginKey(value))).toBe(loginKey(value));
    }
  });
});
