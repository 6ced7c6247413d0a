import { applyDecorators } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { ValidateBy, isEmail } from 'class-validator';

/**
 * Field decorators that validate the way Django REST framework's fields do, with DRF's messages, so
 * a client written against the Django system sees the same `{"field": ["message"]}` errors.
 * One decorator per field keeps the messages in DRF's order (required → null → type → blank → size → format).
 */
export interface CharFieldOptions {
  required?: boolean;
  /** Checked on the normalised value (what is stored or compared), not on what was sent. */
  maxLength?: number;
  minLength?: number;
  /** DRF's CharField strips surrounding white space by default; password fields must not. */
  trimWhitespace?: boolean;
  /**
   * Turns the value into the form that is stored and compared (NFKC, lower case) before any check,
   * so that sizes are those of what reaches the database: lower-casing `İ` makes it two characters.
   */
  normalize?: (value: string) => string;
  /** An extra check after the common ones; returns an error message or null. */
  format?: (value: string) => string | null;
}

/** DRF's ProhibitNullCharactersValidator: PostgreSQL cannot store NUL in text. */
export const NULL_CHARACTERS_MESSAGE = 'Null characters are not allowed.';

/**
 * The first UTF-16 code unit of `value` that is half of a surrogate pair without its other half, or
 * null. JSON's `\ud800` escapes produce them; encoded to UTF-8 they become U+FFFD, so two different
 * passwords could hash alike, and some validators throw on them.
 */
export function loneSurrogate(value: string): number | null {
  for (let index = 0; index < value.length; index += 1) {
    const unit = value.charCodeAt(index);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = value.charCodeAt(index + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        index += 1;
        continue;
      }
      return unit;
    }
    if (unit >= 0xdc00 && unit <= 0xdfff) return unit;
  }
  return null;
}

export function charFieldProblem(value: unknown, options: CharFieldOptions): string | null {
  if (value === undefined) return options.required === false ? null : 'This field is required.';
  if (value === null) return 'This field may not be null.';
  if (typeof value !== 'string') return 'Not a valid string.';
  if (value === '') return 'This field may not be blank.';
  if (options.maxLength !== undefined && value.length > options.maxLength) {
    return `Ensure this field has no more than ${options.maxLength} characters.`;
  }
  if (options.minLength !== undefined && value.length < options.minLength) {
    return `Ensure this field has at least ${options.minLength} characters.`;
  }
  // DRF's CharField validators, in its order: null characters, then surrogates (before any format check).
  if (value.includes('\u0000')) return NULL_CHARACTERS_MESSAGE;
  const surrogate = loneSurrogate(value);
  if (surrogate !== null) return `Surrogate characters are not allowed: U+${surrogate.toString(16).toUpperCase()}.`;
  return options.format ? options.format(value) : null;
}

export function CharField(options: CharFieldOptions = {}): PropertyDecorator {
  const trim = options.trimWhitespace ?? true;
  return applyDecorators(
    // DRF's CharField accepts numbers and turns them into strings; booleans, lists and objects are errors.
    Transform(({ value }) => {
      if (typeof value === 'number' && Number.isFinite(value)) value = String(value);
      if (typeof value !== 'string') return value;
      const trimmed = trim ? value.trim() : value;
      return options.normalize ? options.normalize(trimmed) : trimmed;
    }),
    ValidateBy({
      name: 'drfCharField',
      validator: {
        validate: (value) => charFieldProblem(value, options) === null,
        defaultMessage: (args) => charFieldProblem(args?.value, options) ?? 'Invalid value.',
      },
    }),
  );
}

export const EMAIL_MAX_LENGTH = 254;

/** DRF's EmailField: a CharField with Django's e-mail check. Lower-cased here, as it is stored (and sized). */
export function EmailField(options: Omit<CharFieldOptions, 'format' | 'normalize'> = {}): PropertyDecorator {
  return CharField({
    maxLength: EMAIL_MAX_LENGTH,
    ...options,
    normalize: (value) => value.toLowerCase(),
    format: (value) => (isEmail(value) ? null : 'Enter a valid email address.'),
  });
}
