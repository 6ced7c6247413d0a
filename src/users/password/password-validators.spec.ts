import { describe, it, expect } from '@jest/globals';
import { validatePassword } from './password-validators.js';

const TOO_SHORT = 'This password is too short. It must contain at least 8 characters.';
const TOO_COMMON = 'This password is too common.';
const NUMERIC = 'This password is entirely numeric.';
const SIMILAR_USERNAME = 'The password is too similar to the username.';
const SIMILAR_EMAIL = 'The password is too similar to the email address.';

describe('validatePassword (Django default validators)', () => {
  it('accepts a strong random password', () => {
    expect(validatePassword('vK7#qLp2!zR9wXe', { username: 'johnsmith', email: 'john@example.com' })).toEqual([]);
    expect(validatePassword('Tr0ub4dor&3-horse-staple', {})).toEqual([]);
  });

  describe('UserAttributeSimilarityValidator', () => {
    it('flags a password too similar to the username', () => {
      expect(validatePassword('johnsmith1', { username: 'johnsmith' })).toEqual([SIMILAR_USERNAME]);
    });

    it('is case-insensitive', () => {
      expect(validatePassword('JOHNSMITH1', { username: 'JohnSmith' })).toEqual([SIMILAR_USERNAME]);
    });

    it('flags a password too similar to the email address or one of its parts', () => {
      expect(validatePassword('maryjane@example.org', { email: 'maryjane@example.org' })).toEqual([SIMILAR_EMAIL]);
      // Not similar to the whole address (2*7/23 = 0.61) but to its "example" part (2*7/16 = 0.875).
      expect(validatePassword('example99', { email: 'zq@example.org' })).toEqual([SIMILAR_EMAIL]);
    });

    it('reports only the first similar attribute (username before email)', () => {
      expect(validatePassword('johnsmith1', { username: 'johnsmith', email: 'johnsmith@example.com' })).toEqual([
        SIMILAR_USERNAME,
      ]);
    });

    it('uses quick_ratio >= 0.7 as the threshold', () => {
      // quick_ratio("abcdefgh", "abcdexyz") = 2*5/16 = 0.625 -> accepted
      expect(validatePassword('abcdefgh', { username: 'abcdexyz' })).toEqual([]);
      // quick_ratio("abcdefgh", "abcdefxy") = 2*6/16 = 0.75 -> rejected
      expect(validatePassword('abcdefgh', { username: 'abcdefxy' })).toEqual([SIMILAR_USERNAME]);
      // quick_ratio("qwzx1234", "qwzx12") = 2*6/14 = 0.857 -> rejected
      expect(validatePassword('qwzx1234', { username: 'qwzx12' })).toEqual([SIMILAR_USERNAME]);
    });

    it('skips values too short relative to the password (exceeds_maximum_length_ratio)', () => {
      // 20-char password containing the 2-char username: ratio could never reach 0.7.
      expect(validatePassword('ab-Zr9#Lq2!mWx8$Kp4T', { username: 'ab' })).toEqual([]);
    });

    it('ignores missing, null or empty attributes', () => {
      expect(validatePassword('johnsmith1', {})).toEqual([]);
      expect(validatePassword('johnsmith1', { username: null, email: '' })).toEqual([]);
    });

    it('does not flag an unrelated username', () => {
      expect(validatePassword('johnsmith1', { username: 'alice' })).toEqual([]);
    });
  });

  describe('MinimumLengthValidator', () => {
    it('flags passwords shorter than 8 characters', () => {
      expect(validatePassword('Xk9#q2', {})).toEqual([TOO_SHORT]);
      expect(validatePassword('short', {})).toEqual([TOO_SHORT, TOO_COMMON]);
      expect(validatePassword('', {})).toContain(TOO_SHORT);
    });

    it('accepts exactly 8 characters', () => {
      expect(validatePassword('Xk9#q2Lz', {})).toEqual([]);
    });

    it('counts code points, not UTF-16 units (Python len())', () => {
      // 7 emoji = 14 UTF-16 units but 7 characters -> too short
      expect(validatePassword('\u{1F600}\u{1F601}\u{1F602}\u{1F603}\u{1F604}\u{1F605}\u{1F606}', {})).toEqual([
        TOO_SHORT,
      ]);
    });
  });

  describe('CommonPasswordValidator', () => {
    it('flags common passwords', () => {
      expect(validatePassword('password', {})).toEqual([TOO_COMMON]);
      expect(validatePassword('qwertyuiop', {})).toEqual([TOO_COMMON]);
    });

    it('lower-cases and strips before the lookup', () => {
      expect(validatePassword('  PassWord \n', {})).toEqual([TOO_COMMON]);
    });

    it('does not flag an uncommon password', () => {
      expect(validatePassword('Zr9#Lq2!mWx8', {})).toEqual([]);
    });
  });

  describe('NumericPasswordValidator', () => {
    it('flags entirely numeric passwords', () => {
      expect(validatePassword('90817263544', {})).toEqual([NUMERIC]);
    });

    it('flags Unicode digits like Python str.isdigit()', () => {
      expect(validatePassword('\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669', {})).toEqual([NUMERIC]);
      expect(validatePassword('\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079', {})).toEqual([NUMERIC]);
    });

    it('does not flag a password with a non-digit', () => {
      expect(validatePassword('9081726354a', {})).toEqual([]);
    });
  });

  it('reports several failures in Django order (similarity, length, common, numeric)', () => {
    expect(validatePassword('12345678901', {})).toEqual([TOO_COMMON, NUMERIC]);
    expect(validatePassword('1234567', {})).toEqual([TOO_SHORT, TOO_COMMON, NUMERIC]);
    expect(validatePassword('123456', { username: '123456' })).toEqual([SIMILAR_USERNAME, TOO_SHORT, TOO_COMMON, NUMERIC]);
  });
});
