import { createHmac } from 'node:crypto';

const b64url = (value: object | Buffer) =>
  (Buffer.isBuffer(value) ? value : Buffer.from(JSON.stringify(value))).toString('base64url');

/** Builds JWTs by hand (node:crypto), independent of the code under test, to attack the guard with. */
export function forgeToken(header: Record<string, unknown>, payload: Record<string, unknown>, key?: string): string {
  const signingInput = `${b64url(header)}.${b64url(payload)}`;
  if (!key) return `${signingInput}.`;
  const algorithm = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }[header.alg as string] ?? 'sha256';
  return `${signingInput}.${createHmac(algorithm, key).update(signingInput).digest('base64url')}`;
}

export function decodePayload(token: string): Record<string, any> {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}
