import { describe, it, expect, jest } from '@jest/globals';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { CharField, EMAIL_MAX_LENGTH, EmailField, charFieldProblem, loneSurrogate } from './drf-fields.js';

const REQUIRED = 'This field is required.';
const NULL = 'This field may not be null.';
const NOT_A_STRING = 'Not a valid string.';
const BLANK = 'This field may not be blank.';
const INVALID_EMAIL = 'Enter a valid email address.';

describe('charFieldProblem (DRF CharField checks, in DRF order)', () => {
  it('accepts a plain string', () => {
    expect(charFieldProblem('alice', {})).toBeNull();
    expect(charFieldProblem(' ', {})).toBeNull(); // trimming is the transform's job, not this check's
  });

  it('missing: required unless required is false', () => {
    expect(charFieldProblem(undefined, {})).toBe(REQUIRED);
    expect(charFieldProblem(undefined, { required: true, maxLength: 3, format: () => 'never' })).toBe(REQUIRED);
    expect(charFieldProblem(undefined, { required: false })).toBeNull();
  });

  it('null is its own error, even for an optional field (DRF allow_null defaults to false)', () => {
    expect(charFieldProblem(null, {})).toBe(NULL);
    expect(charFieldProblem(null, { required: false })).toBe(NULL);
  });

  it.each<[string, unknown]>([
    ['a number', 5],
    ['a boolean', true],
    ['a list', ['a']],
    ['an object', { a: 1 }],
  ])('%s is not a valid string', (_label, value) => {
    expect(charFieldProblem(value, { maxLength: 3 })).toBe(NOT_A_STRING);
  });

  it('an empty string is blank, before any size or format check', () => {
    const format = jest.fn<(value: string) => string | null>().mockReturnValue('bad format');
    expect(charFieldProblem('', { minLength: 3, format })).toBe(BLANK);
    expect(format).not.toHaveBeenCalled();
  });

  it('too long, with the limit in the message; the limit itself is fine', () => {
    expect(charFieldProblem('abcdef', { maxLength: 5 })).toBe('Ensure this field has no more than 5 characters.');
    expect(charFieldProblem('abcde', { maxLength: 5 })).toBeNull();
  });

  it('too short, with the limit in the message; the limit itself is fine', () => {
    expect(charFieldProblem('ab', { minLength: 3 })).toBe('Ensure this field has at least 3 characters.');
    expect(charFieldProblem('abc', { minLength: 3 })).toBeNull();
  });

  it('size comes before format', () => {
    const format = () => 'bad format';
    expect(charFieldProblem('abcdef', { maxLength: 5, format })).toBe('Ensure this field has no more than 5 characters.');
    expect(charFieldProblem('a', { minLength: 2, format })).toBe('Ensure this field has at least 2 characters.');
    expect(charFieldProblem('abc', { maxLength: 5, minLength: 2, format })).toBe('bad format');
  });

  it("NUL anywhere: DRF's message, after the size checks and before the format", () => {
    const format = jest.fn<(value: string) => string | null>().mockReturnValue('bad format');
    expect(charFieldProblem('a\u0000b', { format })).toBe('Null characters are not allowed.');
    expect(charFieldProblem('\u0000', {})).toBe('Null characters are not allowed.');
    expect(charFieldProblem('abcdef\u0000', { maxLength: 5 })).toBe('Ensure this field has no more than 5 characters.');
    expect(format).not.toHaveBeenCalled();
  });

  it("a lone surrogate (high or low, anywhere): DRF's message with its code point; a proper pair is fine", () => {
    const format = jest.fn<(value: string) => string | null>().mockReturnValue(null);
    expect(charFieldProblem('ab\ud800', { format })).toBe('Surrogate characters are not allowed: U+D800.');
    expect(charFieldProblem('\udfffab', { format })).toBe('Surrogate characters are not allowed: U+DFFF.');
    expect(charFieldProblem('\ude00\ud83d', { format })).toBe('Surrogate characters are not allowed: U+DE00.');
    expect(format).not.toHaveBeenCalled();
    expect(charFieldProblem('smile \ud83d\ude00', { format })).toBeNull();
    expect(loneSurrogate('\ud83d\ude00\ud83d')).toBe(0xd83d);
    expect(loneSurrogate('plain')).toBeNull();
  });

  it('format gets the value and its message is returned; null means fine', () => {
    const format = jest.fn<(value: string) => string | null>((value) => (value === 'ok' ? null : `bad: ${value}`));
    expect(charFieldProblem('ok', { format })).toBeNull();
    expect(charFieldProblem('nope', { format })).toBe('bad: nope');
    expect(format).toHaveBeenCalledWith('nope');
  });
});

class SampleDto {
  @CharField({ maxLength: 5 })
  name!: string;

  @CharField({ required: false, trimWhitespace: false })
  secret?: string;
}

class EmailDto {
  @EmailField()
  email!: string;
}

class NormalizedDto {
  @CharField({ maxLength: 5, normalize: (value) => value.normalize('NFKC') })
  name!: string;
}

/** Runs the DTO through class-transformer and class-validator as the validation pipe does. */
async function check<T extends object>(cls: new () => T, plain: Record<string, unknown>) {
  const instance = plainToInstance(cls, plain);
  const errors = await validate(instance);
  const messages = Object.fromEntries(errors.map((error) => [error.property, Object.values(error.constraints ?? {})]));
  return { instance, messages };
}

describe('CharField decorator (transform + validation)', () => {
  it('accepts a valid value', async () => {
    const { instance, messages } = await check(SampleDto, { name: 'bob' });
    expect(instance).toBeInstanceOf(SampleDto);
    expect(instance.name).toBe('bob');
    expect(messages).toEqual({});
  });

  it('turns numbers into strings, as DRF does', async () => {
    const { instance, messages } = await check(SampleDto, { name: 12345, secret: 0 });
    expect(instance.name).toBe('12345');
    expect(instance.secret).toBe('0');
    expect(messages).toEqual({});
  });

  it('checks the length of the string a number became', async () => {
    const { messages } = await check(SampleDto, { name: 123456 });
    expect(messages).toEqual({ name: ['Ensure this field has no more than 5 characters.'] });
  });

  it.each<[string, unknown]>([
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['a boolean', false],
    ['a list', ['bob']],
    ['an object', { first: 'bob' }],
  ])('does not turn %s into a string', async (_label, value) => {
    const { messages } = await check(SampleDto, { name: value });
    expect(messages).toEqual({ name: [NOT_A_STRING] });
  });

  it('trims surrounding white space by default (and the length counts after trimming)', async () => {
    const { instance, messages } = await check(SampleDto, { name: '  abcde \t\n' });
    expect(instance.name).toBe('abcde');
    expect(messages).toEqual({});
  });

  it('a value of only white space becomes blank', async () => {
    const { messages } = await check(SampleDto, { name: '   ' });
    expect(messages).toEqual({ name: [BLANK] });
  });

  it('keeps white space with trimWhitespace false (passwords)', async () => {
    const { instance, messages } = await check(SampleDto, { name: 'bob', secret: '  pass word  ' });
    expect(instance.secret).toBe('  pass word  ');
    expect(messages).toEqual({});
  });

  it('reports required, null and optional fields with DRF messages', async () => {
    expect((await check(SampleDto, {})).messages).toEqual({ name: [REQUIRED] });
    expect((await check(SampleDto, { name: null, secret: null })).messages).toEqual({ name: [NULL], secret: [NULL] });
  });
});

describe('CharField normalize', () => {
  it('validates and passes on the normalised value, and sizes it after normalising', async () => {
    const fullWidth = await check(NormalizedDto, { name: ' ａｂｃ ' });
    expect(fullWidth.instance.name).toBe('abc');
    expect(fullWidth.messages).toEqual({});
    // U+FDFA is one character that NFKC spells out in 18.
    expect((await check(NormalizedDto, { name: '\ufdfa' })).messages).toEqual({ name: ['Ensure this field has no more than 5 characters.'] });
  });
});

describe('EmailField decorator', () => {
  it('accepts an address, trims it and lower-cases it (as it is stored)', async () => {
    const { instance, messages } = await check(EmailDto, { email: ' Alice@Example.com ' });
    expect(instance.email).toBe('alice@example.com');
    expect(messages).toEqual({});
  });

  it('sizes the lower-cased address: İ lower-cases to two characters', async () => {
    const email = `${'a'.repeat(60)}@${`${'b'.repeat(60)}.`.repeat(2)}${'İ'.repeat(60)}.io`;
    expect(email.length).toBeLessThanOrEqual(EMAIL_MAX_LENGTH);
    expect((await check(EmailDto, { email })).messages).toEqual({ email: [`Ensure this field has no more than ${EMAIL_MAX_LENGTH} characters.`] });
  });

  it('a lone surrogate is a 400, not a crash of the address check', async () => {
    expect((await check(EmailDto, { email: 'a\ud800@example.com' })).messages).toEqual({ email: ['Surrogate characters are not allowed: U+D800.'] });
  });

  it('refuses something that is not an address', async () => {
    expect((await check(EmailDto, { email: 'alice' })).messages).toEqual({ email: [INVALID_EMAIL] });
    expect((await check(EmailDto, { email: 'alice@' })).messages).toEqual({ email: [INVALID_EMAIL] });
  });

  it(`limits the length to ${EMAIL_MAX_LENGTH} characters before checking the format`, async () => {
    const tooLong = `${'a'.repeat(EMAIL_MAX_LENGTH)}@example.com`;
    expect((await check(EmailDto, { email: tooLong })).messages).toEqual({
      email: [`Ensure this field has no more than ${EMAIL_MAX_LENGTH} characters.`],
    });
  });

  it('is required and not blank', async () => {
    expect((await check(EmailDto, {})).messages).toEqual({ email: [REQUIRED] });
    expect((await check(EmailDto, { email: '' })).messages).toEqual({ email: [BLANK] });
  });
});
