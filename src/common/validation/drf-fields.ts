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
  maxLength?: number;
  minLength?: number;
  /** DRF's CharField strips surrounding white space by default; password fields must not. */
  trimWhitespace?: boolean;
  /** An extra check after the common ones; returns an error message or null. */
  format?: (value: string) => string | null;
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
  return options.format ? options.format(value) : null;
}

export function CharField(options: CharFieldOptions = {}): PropertyDecorator {
  const trim = options.trimWhitespace ?? true;
  return applyDecorators(
    // DRF's CharField accepts numbers and turns them into strings; booleans, lists and objects are errors.
    Transform(({ value }) => {
      if (typeof value === 'number' && Number.isFinite(value)) return String(value);
      if (typeof value === 'string' && trim) return value.trim();
      return value;
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

/** DRF's EmailField: a CharField with Django's e-mail check; stored lower-case by the caller. */
export function EmailField(options: Omit<CharFieldOptions, 'format'> = {}): PropertyDecorator {
  return CharField({
    maxLength: EMAIL_MAX_LENGTH,
    ...options,
    format: (value) => (isEmail(value) ? null : 'Enter a valid email address.'),
  });
}
