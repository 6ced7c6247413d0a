import { describe, it, expect } from '@jest/globals';
import type { ArgumentMetadata } from '@nestjs/common';
import { RegisterDto } from '../../auth/dto/register.dto.js';
import { DrfException } from '../http/drf-errors.js';
import { DrfValidationPipe } from './drf-validation.pipe.js';

const REQUIRED = 'This field is required.';
const BODY: ArgumentMetadata = { type: 'body', metatype: RegisterDto, data: '' };
const VALID = { username: 'alice', email: 'alice@example.com', password: 'vK7#qLp2!zR9wXe' };

/** The DrfException the pipe throws for `value` (fails the test if it passes or throws something else). */
async function rejectionOf(value: unknown, metadata: ArgumentMetadata = BODY): Promise<DrfException> {
  const pipe = new DrfValidationPipe();
  let thrown: unknown;
  try {
    await pipe.transform(value, metadata);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(DrfException);
  return thrown as DrfException;
}

async function expect400(value: unknown, body: Record<string, string[]>): Promise<void> {
  const error = await rejectionOf(value);
  expect(error.getStatus()).toBe(400);
  expect(error.body).toEqual(body);
}

describe('DrfValidationPipe on RegisterDto', () => {
  it('returns a RegisterDto for a valid body', async () => {
    const result = await new DrfValidationPipe().transform({ ...VALID }, BODY);
    expect(result).toBeInstanceOf(RegisterDto);
    expect(result).toEqual(VALID);
  });

  it('strips unknown fields instead of binding them (DRF ignores them)', async () => {
    const result = await new DrfValidationPipe().transform(
      { ...VALID, is_staff: true, is_superuser: true, id: 1, passwordHash: 'x' },
      BODY,
    );
    expect(Object.keys(result as object).sort()).toEqual(['email', 'password', 'username']);
    expect(result).toEqual(VALID);
  });

  it('trims the username and e-mail but not the password; turns numbers into strings', async () => {
    const result = await new DrfValidationPipe().transform(
      { username: '  alice ', email: ' alice@example.com ', password: '  spaced pass  ' },
      BODY,
    );
    expect(result).toEqual({ username: 'alice', email: 'alice@example.com', password: '  spaced pass  ' });
    const numeric = await new DrfValidationPipe().transform({ ...VALID, username: 12345 }, BODY);
    expect((numeric as RegisterDto).username).toBe('12345');
  });

  it('answers 400 {"field": ["message"]} with every bad field named, one message each', async () => {
    await expect400(
      { username: '', email: 'not-an-email', password: null },
      {
        username: ['This field may not be blank.'],
        email: ['Enter a valid email address.'],
        password: ['This field may not be null.'],
      },
    );
  });

  it('names only the bad fields', async () => {
    await expect400({ ...VALID, email: 'nope' }, { email: ['Enter a valid email address.'] });
    await expect400({ ...VALID, username: 'bad name!' }, {
      username: ['Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.'],
    });
    await expect400({ ...VALID, username: 'a'.repeat(151) }, { username: ['Ensure this field has no more than 150 characters.'] });
    await expect400({ ...VALID, password: 'p'.repeat(1025) }, { password: ['Ensure this field has no more than 1024 characters.'] });
  });

  it('reports wrong types with DRF messages', async () => {
    await expect400(
      { username: true, email: ['alice@example.com'], password: { value: 'x' } },
      { username: ['Not a valid string.'], email: ['Not a valid string.'], password: ['Not a valid string.'] },
    );
  });

  it('reports a missing field as required', async () => {
    await expect400({ username: 'alice', email: 'alice@example.com' }, { password: [REQUIRED] });
  });

  it.each<[string, unknown]>([
    ['undefined', undefined],
    ['null', null],
    ['an empty string', ''],
  ])('an absent body (%s): every field is required', async (_label, body) => {
    await expect400(body, { username: [REQUIRED], email: [REQUIRED], password: [REQUIRED] });
  });

  it.each<[string, unknown, string]>([
    ['a JSON array', [VALID], 'list'],
    ['an empty JSON array', [], 'list'],
    ['a string', 'alice', 'str'],
    ['a number', 42, 'int'],
    ['a boolean', true, 'bool'],
  ])('%s as the body: non_field_errors, as DRF says it', async (_label, body, got) => {
    await expect400(body, { non_field_errors: [`Invalid data. Expected a dictionary, but got ${got}.`] });
  });

  it('leaves parameters of primitive types alone', async () => {
    const pipe = new DrfValidationPipe();
    await expect(pipe.transform('abc', { type: 'param', metatype: String, data: 'id' })).resolves.toBe('abc');
    await expect(pipe.transform(['x'], { type: 'custom', data: undefined })).resolves.toEqual(['x']);
  });
});
