import { describe, expect, it } from '@jest/globals';
import { JSON_MAX_DEPTH, tooDeepField } from './json-body.js';

const nested = (depth: number, open = '[', close = ']') => `${open.repeat(depth)}1${close.repeat(depth)}`;

describe('tooDeepField (the nesting check on raw JSON)', () => {
  it('lets the limit itself through, and names the top-level field one level past it', () => {
    // The body object is level 1, so a field may hold JSON_MAX_DEPTH - 1 levels.
    expect(tooDeepField(`{"token": ${nested(JSON_MAX_DEPTH - 1)}}`)).toBeNull();
    expect(tooDeepField(`{"token": ${nested(JSON_MAX_DEPTH)}}`)).toBe('token');
    expect(tooDeepField(nested(JSON_MAX_DEPTH))).toBeNull();
  });

  it('names the right field among several, objects and arrays alike', () => {
    const deepObject = `${'{"a":'.repeat(100)}1${'}'.repeat(100)}`;
    expect(tooDeepField(`{"username": "x", "password": ${deepObject}, "email": "y"}`)).toBe('password');
    expect(tooDeepField(`{"username": [[1]], "email": ${nested(50)}}`)).toBe('email');
  });

  it('a body that is itself too deep (no field to name) is a non_field_errors problem', () => {
    expect(tooDeepField(nested(5000))).toBe('non_field_errors');
    expect(tooDeepField(`[{"a": ${nested(50)}}]`)).toBe('non_field_errors');
  });

  it('ignores brackets, braces, quotes and commas inside strings, escaped quotes included', () => {
    const tricky = `{"a": "${'['.repeat(100)}\\\\\\" , \\"b\\": ${'{'.repeat(100)}", "b": 1}`;
    expect(JSON.parse(tricky)).toEqual({ a: expect.any(String), b: 1 });
    expect(tooDeepField(tricky)).toBeNull();
    expect(tooDeepField(`{"we[ird, key\\"": ${nested(40)}}`)).toBe('we[ird, key"');
  });

  it('decodes escaped keys, and handles a million levels without recursion', () => {
    expect(tooDeepField(`{"\\u0074oken": ${nested(40)}}`)).toBe('token');
    expect(tooDeepField(nested(1_000_000))).toBe('non_field_errors');
  });
});
