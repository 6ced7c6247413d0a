import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { RawServerDefault } from 'fastify';
import { drfFieldError } from './drf-errors.js';

/** Deepest nesting of arrays and objects a JSON body may have; no route needs more than 2. */
export const JSON_MAX_DEPTH = 32;

export const TOO_DEEP_MESSAGE = `Ensure this value is nested no more than ${JSON_MAX_DEPTH} levels deep.`;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;

/**
 * Scans raw JSON text, without recursion, for arrays or objects nested deeper than `maxDepth`.
 * Returns the top-level field whose value is too deep (`non_field_errors` when the body itself is),
 * or null when the nesting is fine. Malformed text is left to the JSON parser that runs next.
 */
export function tooDeepField(text: string, maxDepth = JSON_MAX_DEPTH): string | null {
  let depth = 0;
  let inString = false;
  let escaped = false;
  let topIsObject = false;
  let expectingKey = false;
  let keyStart = -1;
  let key: string | null = null;
  for (let index = 0; index < text.length; index += 1) {
    const char = text.charCodeAt(index);
    if (inString) {
      if (escaped) escaped = false;
      else if (char === BACKSLASH) escaped = true;
      else if (char === QUOTE) {
        inString = false;
        if (keyStart >= 0) {
          try {
            key = JSON.parse(text.slice(keyStart, index + 1)) as string;
          } catch {
            key = null;
          }
          keyStart = -1;
        }
      }
      continue;
    }
    switch (char) {
      case QUOTE:
        inString = true;
        if (depth === 1 && topIsObject && expectingKey) {
          keyStart = index;
          expectingKey = false;
        }
        break;
      case 0x7b: // {
      case 0x5b: // [
        depth += 1;
        if (depth === 1) {
          topIsObject = char === 0x7b;
          expectingKey = topIsObject;
          key = null;
        }
        if (depth > maxDepth) return depth > 1 && topIsObject && key !== null ? key : 'non_field_errors';
        break;
      case 0x7d: // }
      case 0x5d: // ]
        depth -= 1;
        break;
      case COMMA:
        if (depth === 1 && topIsObject) expectingKey = true;
        break;
      default:
        break;
    }
  }
  return null;
}

/**
 * JSON bodies go through Fastify's own parser (prototype-poisoning checks included) only after the
 * raw text passed the nesting check: a body nested thousands of levels deep is a 400 naming the field
 * before class-transformer, which recurses, ever sees it. Form-encoded bodies need no such check:
 * Fastify's parser (fast-querystring) makes flat objects of strings, or arrays of strings.
 */
export function useDepthLimitedJsonParser(app: NestFastifyApplication, bodyLimit: number): void {
  const fastify = app.getHttpAdapter().getInstance();
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  app.useBodyParser<RawServerDefault>('application/json', { bodyLimit }, (request, body, done) => {
    const text = body.toString('utf8');
    const field = tooDeepField(text);
    if (field !== null) {
      done(drfFieldError(field, TOO_DEEP_MESSAGE), undefined);
      return;
    }
    parseJson(request, text, done);
  });
}
