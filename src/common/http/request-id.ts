import { randomUUID } from 'node:crypto';

/**
 * Heroku's router sets X-Request-ID (a UUID, or the client's own value of 20–200 characters of
 * letters, digits, `+`, `/`, `=` and `-`). A value outside that alphabet or longer than 200 characters
 * is not ours to copy into logs and headers: the request gets a fresh id instead.
 */
const ACCEPTED = /^[A-Za-z0-9+/=._:-]{1,200}$/;

export const REQUEST_ID_HEADER = 'x-request-id';

export function requestIdFrom(header: string | string[] | undefined): string {
  return typeof header === 'string' && ACCEPTED.test(header) ? header : randomUUID();
}
