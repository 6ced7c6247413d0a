import { describe, expect, it } from '@jest/globals';
import { redactSecrets } from './log-redaction.js';

describe('redactSecrets', () => {
  const jwt = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VyX2lkIjo0Mn0.c2lnbmF0dXJlLXBhcnQtb2YtdGhlLXRva2Vu';

  it.each([
    ['a JWT anywhere in a message', `refresh failed for ${jwt} (expired)`, jwt],
    ['a bearer header value', 'authorization: Bearer abc.def-ghi', 'abc.def-ghi'],
    ['the secrets of a reset link', 'https://app.example/reset-password?uid=NDI&token=tp9995-aaaf303790723aac8635bbe9e5d6b7e90969b3f9', 'aaaf303790723aac'],
    ['a bare reset token', 'confirm tp9995-aaaf303790723aac8635bbe9e5d6b7e90969b3f9 failed', 'aaaf303790723aac'],
    ['a password in a connection URL', 'connect postgres://app:s3cret-pw@db.example:5432/auth failed', 's3cret-pw'],
  ])('removes %s', (_what, text, secret) => {
    const redacted = redactSecrets(text);
    expect(redacted).not.toContain(secret);
    expect(redacted).toContain('[redacted]');
  });

  it('leaves ordinary text alone', () => {
    const text = 'GET /api/me 200 3.1 ms user 42 [0fce2bd0-8eda-4b91-a898-80f4545ba7d4]';
    expect(redactSecrets(text)).toBe(text);
  });
});
