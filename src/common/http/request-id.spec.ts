import { describe, expect, it } from '@jest/globals';
import { requestIdFrom } from './request-id.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('requestIdFrom', () => {
  it("keeps the router's id when it is well-formed (Heroku: letters, digits, + / = -, up to 200)", () => {
    expect(requestIdFrom('a1b2c3d4-e5f6-4711-8899-aabbccddeeff')).toBe('a1b2c3d4-e5f6-4711-8899-aabbccddeeff');
    expect(requestIdFrom('x'.repeat(200))).toBe('x'.repeat(200));
    expect(requestIdFrom('Zm9vYmFy+/=')).toBe('Zm9vYmFy+/=');
  });

  it('makes a new UUID when there is none, or it is too long, has unsafe characters or is repeated', () => {
    for (const header of [undefined, '', 'x'.repeat(201), 'with space', 'line\nbreak', '"quoted"', ['a', 'b']]) {
      expect(requestIdFrom(header)).toMatch(UUID);
    }
  });
});
