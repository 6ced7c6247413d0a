import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { forgeToken } from './support/jwt-forge.js';
import { exchangeProblems, type OpenApiDocument as DocumentForChecks } from './support/openapi-schema.js';
import { type ApiResponse, HttpClient, newUser } from './support/http-client.js';
import { startApp, type TestApp } from './support/test-app.js';

/**
 * No input gives a 5xx. Driven by the OpenAPI document: every operation with a request body gets,
 * in each of its fields, a NUL byte, a lone surrogate, and a nesting thousands of levels deep (JSON
 * and form-encoded), so a route added later is covered without touching this file. Each answer must
 * be a 400 that names the field.
 */
const NUL_MESSAGE = 'Null characters are not allowed.';
const DEEP = 2500;
const report: string[] = [];

interface Operation {
  method: string;
  path: string;
  fields: string[];
}

interface OpenApiDocument {
  paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: { $ref?: string } }> } }>>;
  components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
}

/** Every operation of the document and the fields of its JSON body (empty when it takes none). */
function operationsOf(document: OpenApiDocument): Operation[] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, operation]) => {
      const ref = operation.requestBody?.content?.['application/json']?.schema?.$ref;
      const schema = ref ? document.components.schemas[ref.split('/').at(-1)!] : undefined;
      return { method: method.toUpperCase(), path, fields: Object.keys(schema?.properties ?? {}) };
    }),
  );
}

/** A plausible value for a field, so that only the field under test is wrong. */
const sampleFor = (field: string) => (field.includes('email') ? 'someone@example.com' : `sample-${field}-value-1`);

afterAll(() => {
  console.log(`Bad input\n${report.join('\n')}`);
});

describe('no 5xx from any input', () => {
  let testApp: TestApp;
  let api: HttpClient;
  let operations: Operation[];
  let access: string;
  let document: DocumentForChecks;
  const responses: Array<{ what: string; method: string; path: string; status: number; text: string; headers: Record<string, string> }> = [];

  beforeAll(async () => {
    testApp = await startApp({});
    api = new HttpClient(testApp.baseUrl);
    const original = api.request.bind(api);
    api.request = async <T = any>(...args: Parameters<HttpClient['request']>): Promise<ApiResponse<T>> => {
      const response = await original<T>(...args);
      responses.push({
        what: `${args[0]} ${args[1]}`,
        method: args[0],
        path: args[1],
        status: response.status,
        text: response.text,
        headers: Object.fromEntries(response.headers.entries()),
      });
      return response;
    };
    const schema = await api.get('/api/schema/');
    expect(schema.status).toBe(200);
    operations = operationsOf(schema.body as OpenApiDocument);
    document = schema.body as DocumentForChecks;
    const user = newUser('badinput');
    expect((await api.post('/api/register/', user)).status).toBe(201);
    access = (await api.post('/api/token/', { username: user.username, password: user.password })).body.access;
  });

  afterAll(async () => {
    await testApp.close();
  });

  const withBody = () => operations.filter((operation) => operation.fields.length > 0);
  const concrete = (path: string) => path.replace(/\{[^}]+\}/g, '00000000-0000-4000-8000-000000000000');
  const sendJson = (operation: Operation, rawBody: string) =>
    api.request(operation.method, concrete(operation.path), { rawBody, token: access, headers: { 'content-type': 'application/json' } });
  const bodyWith = (operation: Operation, field: string, value: unknown) =>
    Object.fromEntries(operation.fields.map((name) => [name, name === field ? value : sampleFor(name)]));

  it('the document lists the body routes (so the sweep below covers something)', () => {
    const names = withBody().map((operation) => `${operation.method} ${operation.path}`);
    report.push(`${names.length} operations with a body: ${names.join(', ')}`);
    expect(names).toEqual(expect.arrayContaining(['POST /api/register/', 'POST /api/token/', 'POST /api/password/reset/confirm/']));
  });

  it('a NUL byte in any field, JSON or form-encoded: 400 naming the field', async () => {
    const failures: string[] = [];
    let sent = 0;
    for (const operation of withBody()) {
      for (const field of operation.fields) {
        const json = await sendJson(operation, JSON.stringify(bodyWith(operation, field, 'ab\u0000cd')));
        const form = await api.request(operation.method, concrete(operation.path), {
          rawBody: new URLSearchParams(bodyWith(operation, field, 'ab\u0000cd') as Record<string, string>).toString(),
          token: access,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        });
        sent += 2;
        for (const [kind, response] of [['json', json], ['form', form]] as const) {
          const messages = (response.body as Record<string, unknown> | undefined)?.[field];
          if (response.status !== 400 || !Array.isArray(messages) || !messages.includes(NUL_MESSAGE)) {
            failures.push(`${operation.method} ${operation.path} ${field} (${kind}): ${response.status} ${response.text.slice(0, 120)}`);
          }
        }
      }
    }
    report.push(`NUL byte: ${sent} requests, ${failures.length} without a 400 naming the field${failures.length ? `: ${failures.join('; ')}` : ''}`);
    expect(failures).toEqual([]);
  });

  it('a lone surrogate in any field (passwords included): 400 naming the field', async () => {
    const failures: string[] = [];
    let sent = 0;
    for (const operation of withBody()) {
      for (const field of operation.fields) {
        for (const lone of ['ab\ud800cd', 'ab\udfffcd']) {
          const response = await sendJson(operation, JSON.stringify(bodyWith(operation, field, lone)));
          sent += 1;
          const messages = (response.body as Record<string, unknown> | undefined)?.[field];
          if (response.status !== 400 || !Array.isArray(messages) || !messages.some((message) => /^Surrogate characters are not allowed: U\+D[8F]/.test(String(message)))) {
            failures.push(`${operation.method} ${operation.path} ${field}: ${response.status} ${response.text.slice(0, 120)}`);
          }
        }
      }
    }
    report.push(`lone surrogate: ${sent} requests, ${failures.length} without a 400 naming the field${failures.length ? `: ${failures.join('; ')}` : ''}`);
    expect(failures).toEqual([]);
  });

  it(`arrays and objects nested ${DEEP} deep in any field: 400 naming the field, on every route`, async () => {
    const failures: string[] = [];
    let sent = 0;
    for (const operation of operations.filter((candidate) => !['GET', 'DELETE'].includes(candidate.method))) {
      const fields = operation.fields.length > 0 ? operation.fields : ['anything'];
      for (const field of fields) {
        for (const [open, close] of [['[', ']'], ['{"a":', '}']]) {
          const deep = `${open.repeat(DEEP)}1${close.repeat(DEEP)}`;
          const raw = JSON.stringify(bodyWith({ ...operation, fields }, field, '__DEEP__')).replace('"__DEEP__"', deep);
          const response = await sendJson(operation, raw);
          sent += 1;
          const messages = (response.body as Record<string, unknown> | undefined)?.[field];
          if (response.status !== 400 || !Array.isArray(messages)) {
            failures.push(`${operation.method} ${operation.path} ${field} ${open}: ${response.status} ${response.text.slice(0, 120)}`);
          }
        }
      }
    }
    // A body that is itself deeply nested, without a field to name.
    const topLevel = await sendJson({ method: 'POST', path: '/api/token/verify/', fields: [] }, `${'['.repeat(DEEP)}${']'.repeat(DEEP)}`);
    report.push(`nesting ${DEEP} deep: ${sent} requests, ${failures.length} without a 400 naming the field; a deep top-level array: ${topLevel.status} ${topLevel.text.slice(0, 100)}`);
    expect(failures).toEqual([]);
    expect(topLevel.status).toBe(400);
    expect(Object.keys(topLevel.body)).toEqual(['non_field_errors']);
    expect(testApp.logs.filter((line) => /Maximum call stack|RangeError/.test(line))).toEqual([]);
  });

  it('a modest nesting is still answered field by field (the limit is not "no arrays")', async () => {
    const nested = `{"token": ${'['.repeat(20)}"x"${']'.repeat(20)}}`;
    const response = await sendJson({ method: 'POST', path: '/api/token/verify/', fields: ['token'] }, nested);
    expect(response.status).toBe(400);
    expect(response.body).toEqual({ token: ['Not a valid string.'] });
  });

  it('lengths are checked after normalisation (İ grows when lower-cased; NFKC grows ligatures)', async () => {
    // A valid address of 246 characters as sent, 306 once lower-cased (İ → i + U+0307).
    const email = `${'a'.repeat(60)}@${`${'b'.repeat(60)}.`.repeat(2)}${'İ'.repeat(60)}.io`;
    expect(email.length).toBeLessThanOrEqual(254);
    const register = await api.post('/api/register/', { ...newUser('len'), email });
    const reset = await api.post('/api/password/reset/', { email });
    // 10 characters as sent, 180 after NFKC (U+FDFA is one letter that NFKC spells out in 18).
    const username = await api.post('/api/register/', { ...newUser('len'), username: '\ufdfa'.repeat(10) });
    report.push(`lengths after normalisation: long-when-lower-cased e-mail at register ${register.status}, at reset ${reset.status}; NFKC-long username ${username.status}`);
    expect(register.status).toBe(400);
    expect(Object.keys(register.body)).toEqual(['email']);
    expect(reset.status).toBe(400);
    expect(Object.keys(reset.body)).toEqual(['email']);
    expect(username.status).toBe(400);
    expect(username.body).toEqual({ username: ['Ensure this field has no more than 150 characters.'] });
  });

  it('a validly signed token whose user_id PostgreSQL cannot hold, is not positive or names nobody: 401', async () => {
    const key = process.env.JWT_SIGNING_KEY!;
    const now = Math.floor(Date.now() / 1000);
    const statuses: string[] = [];
    // The largest id PostgreSQL holds, which nobody has here, must be a 401 as well (not a foreign-key 500).
    for (const userId of [2_147_483_648, 9_007_199_254_740_991, 0, -1, 2_147_483_647]) {
      const claims = { exp: now + 300, iat: now, jti: randomUUID().replaceAll('-', ''), user_id: userId, sid: randomUUID() };
      const accessToken = forgeToken({ alg: 'HS256', typ: 'JWT' }, { token_type: 'access', ...claims }, key);
      const refreshToken = forgeToken({ alg: 'HS256', typ: 'JWT' }, { token_type: 'refresh', ...claims }, key);
      const legacyRefresh = forgeToken({ alg: 'HS256', typ: 'JWT' }, { token_type: 'refresh', ...claims, sid: undefined }, key);
      const answers = [
        await api.get('/api/me/', accessToken),
        await api.post('/api/token/verify/', { token: accessToken }),
        await api.post('/api/token/refresh/', { refresh: refreshToken }),
        await api.post('/api/token/refresh/', { refresh: legacyRefresh }),
        await api.post('/api/token/blacklist/', { refresh: legacyRefresh }),
      ];
      statuses.push(`${userId}: ${answers.map((answer) => answer.status).join('/')}`);
      expect(answers.map((answer) => answer.status)).toEqual([401, 401, 401, 401, 401]);
    }
    report.push(`signed tokens with an out-of-range user_id (me/verify/refresh/legacy refresh/blacklist): ${statuses.join('; ')}`);
  });

  it('every answer to an operation that takes a body is one the OpenAPI document describes (status, body, headers)', () => {
    // Operations without a body document no body errors: a client sends them none.
    const templates = operations
      .filter((operation) => operation.fields.length > 0)
      .map((operation) => ({ operation, pattern: new RegExp(`^${operation.path.replace(/\{[^}]+\}/g, '[^/]+')}$`) }));
    let checked = 0;
    const problems = responses.flatMap((response) => {
      const template = templates.find(({ operation, pattern }) => operation.method === response.method && pattern.test(response.path));
      if (!template) return [];
      checked += 1;
      return exchangeProblems(document, { method: response.method, path: template.operation.path, status: response.status, body: response.text, headers: response.headers });
    });
    report.push(`checked against the OpenAPI document: ${checked} answers, ${problems.length} problems${problems.length ? `: ${problems.slice(0, 5).join('; ')}` : ''}`);
    expect(checked).toBeGreaterThan(100);
    expect(problems).toEqual([]);
  });

  it('no request of this suite got a 5xx, and nothing was logged as an error', () => {
    const fivexx = responses.filter((response) => response.status >= 500);
    report.push(`${responses.length} requests in all, ${fivexx.length} × 5xx`);
    expect(fivexx.map((response) => `${response.what} ${response.status}`)).toEqual([]);
    expect(testApp.logs.filter((line) => /^(error|fatal) /.test(line)).length).toBe(0);
  });
});
