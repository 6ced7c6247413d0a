/**
 * Django's default AUTH_PASSWORD_VALIDATORS, reimplemented as one pure function.
 *
 * Order and messages are Django's (django/contrib/auth/password_validation.py, Django 5.x):
 *   1. UserAttributeSimilarityValidator (user_attributes = username, email; max_similarity 0.7)
 *   2. MinimumLengthValidator (min_length 8)
 *   3. CommonPasswordValidator
 *   4. NumericPasswordValidator
 * Each validator contributes at most one message. Lengths count Unicode code points
 * (Python's len()), not UTF-16 code units.
 *
 * Known deviation: the common-password list is @zxcvbn-ts/language-common's
 * `passwords-common` list, not Django's bundled 20,000-entry common-passwords.txt.gz.
 */
import difflib from 'difflib';
import zxcvbnCommon from '@zxcvbn-ts/language-common';

export interface PasswordUserAttributes {
  username?: string | null;
  email?: string | null;
}

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_SIMILARITY = 0.7;

export const PASSWORD_TOO_SHORT_MESSAGE = `This password is too short. It must contain at least ${PASSWORD_MIN_LENGTH} characters.`;
export const PASSWORD_TOO_COMMON_MESSAGE = 'This password is too common.';
export const PASSWORD_ENTIRELY_NUMERIC_MESSAGE = 'This password is entirely numeric.';
export const passwordTooSimilarMessage = (verboseName: string): string =>
  `The password is too similar to the ${verboseName}.`;

/** Attributes compared, in Django's DEFAULT_USER_ATTRIBUTES order, with the model field verbose names. */
const SIMILARITY_ATTRIBUTES: ReadonlyArray<readonly [keyof PasswordUserAttributes, string]> = [
  ['username', 'username'],
  ['email', 'email address'],
];

/** Python's `re.split(r'\W+', s)` on str: \w is exactly [\p{L}\p{N}_] (str.isalnum() or '_'). */
const PY_NON_WORD_RUN = /[^\p{L}\p{N}_]+/u;

/** Characters for which Python's str.isspace() is true (used by str.strip()). */
const PY_WHITESPACE =
  '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_STRIP = new RegExp(`^[${PY_WHITESPACE}]+|[${PY_WHITESPACE}]+$`, 'gu');

/**
 * Python's str.isdigit(): every character has Numeric_Type Decimal (= \p{Nd}) or Digit.
 * The Digit-but-not-Decimal characters (superscripts, subscripts, circled digits, ...) are listed
 * explicitly (generated from Python 3.11 / Unicode 14 unicodedata) since JS regexes cannot query
 * Numeric_Type.
 */
const PY_ISDIGIT =
  /^[\p{Nd}\u00B2\u00B3\u00B9\u1369-\u1371\u19DA\u2070\u2074-\u2079\u2080-\u2089\u2460-\u2468\u2474-\u247C\u2488-\u2490\u24EA\u24F5-\u24FD\u24FF\u2776-\u277E\u2780-\u2788\u278A-\u2792\u{10A40}-\u{10A43}\u{10E60}-\u{10E68}\u{11052}-\u{1105A}\u{1F100}-\u{1F10A}]+$/u;

/** Lower-cased, stripped common passwords; built once at module load. */
const COMMON_PASSWORDS: ReadonlySet<string> = new Set(
  zxcvbnCommon.dictionary['passwords-common'].map((p) => pyStrip(p.toLowerCase())),
);

function pyStrip(value: string): string {
  return value.replace(PY_STRIP, '');
}

function codePoints(value: string): string[] {
  return Array.from(value);
}

/**
 * Django's exceeds_maximum_length_ratio(): when the password is at least 10x longer than the
 * value, SequenceMatcher.quick_ratio() cannot reach max_similarity, so the comparison is skipped.
 */
function exceedsMaximumLengthRatio(passwordLength: number, maxSimilarity: number, valueLength: number): boolean {
  const lengthBoundSimilarity = (maxSimilarity / 2) * passwordLength;
  return passwordLength >= 10 * valueLength && valueLength < lengthBoundSimilarity;
}

/** UserAttributeSimilarityValidator.validate(); returns the error message or null. */
function userAttributeSimilarityError(password: string, user: PasswordUserAttributes): string | null {
  const passwordChars = codePoints(password.toLowerCase());
  for (const [attribute, verboseName] of SIMILARITY_ATTRIBUTES) {
    const value = user[attribute];
    if (!value || typeof value !== 'string') continue;
    const valueLower = value.toLowerCase();
    const valueParts = [...valueLower.split(PY_NON_WORD_RUN), valueLower];
    for (const part of valueParts) {
      const partChars = codePoints(part);
      if (exceedsMaximumLengthRatio(passwordChars.length, PASSWORD_MAX_SIMILARITY, partChars.length)) continue;
      const ratio = new difflib.SequenceMatcher<string>(null, passwordChars, partChars).quickRatio();
      if (ratio >= PASSWORD_MAX_SIMILARITY) return passwordTooSimilarMessage(verboseName);
    }
  }
  return null;
}

/**
 * Runs Django's four default password validators and returns every failure message
 * (empty array when the password is acceptable). Pure: no I/O, never logs the password.
 */
export function validatePassword(password: string, user: PasswordUserAttributes): string[] {
  const errors: string[] = [];

  const similarity = userAttributeSimilarityError(password, user ?? {});
  if (similarity !== null) errors.push(similarity);

  if (codePoints(password).length < PASSWORD_MIN_LENGTH) errors.push(PASSWORD_TOO_SHORT_MESSAGE);

  if (COMMON_PASSWORDS.has(pyStrip(password.toLowerCase()))) errors.push(PASSWORD_TOO_COMMON_MESSAGE);

  if (PY_ISDIGIT.test(password)) errors.push(PASSWORD_ENTIRELY_NUMERIC_MESSAGE);

  return errors;
}
