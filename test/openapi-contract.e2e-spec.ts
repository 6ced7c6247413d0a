import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import ts from 'typescript';
import { type Exchange, exchangeProblems, type OpenApiDocument } from './support/openapi-schema.js';
import { HttpClient, newUser } from './support/http-client.js';
import { startApp, type TestApp } from './support/test-app.js';

/**
 * openapi.json is a contract: it is the document the service serves, and a client generated from it
 * compiles strictly, runs the whole flow against the service, and gets exactly the bodies the
 * document describes, errors included.
 */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const COMMITTED = join(ROOT, 'openapi.json');
const BIN = join(ROOT, 'node_modules', '.bin');
const run = promisify(execFile);
const report: string[] = [];

/** JSON pointers where two documents differ (at most `limit`). */
function differences(committed: unknown, served: unknown, at = '', found: string[] = [], limit = 10): string[] {
  if (found.length >= limit) return found;
  if (typeof committed !== 'object' || typeof served !== 'object' || committed === null || served === null) {
    if (committed !== served) found.push(at || '/');
    return found;
  }
  const keys = new Set([...Object.keys(committed), ...Object.keys(served)]);
  for (const key of keys) {
    differences((committed as Record<string, unknown>)[key], (served as Record<string, unknown>)[key], `${at}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`, found, limit);
  }
  return found;
}

/** Runs a tool; resolves with its exit code and output (never rejects on a failing exit). */
async function tool(command: string, args: string[], cwd: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(command, args, { cwd, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, output: `${stdout}${stderr}` };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string; message: string };
    return { code: typeof failed.code === 'number' ? failed.code : 1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}${failed.message}` };
  }
}

/** The README's refresh sketch ("For front-end teams"): it is type-checked with the flow, so it stays true. */
async function readmeSketch(): Promise<string> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const sketch = /A sketch with openapi-fetch:\n\n```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  if (!sketch) throw new Error('README.md: the "A sketch with openapi-fetch" code block is missing');
  return sketch;
}

/**
 * A folder like a front-end project's: the generated types from `document`, the flow program, and
 * the repository's node_modules (openapi-fetch) linked in.
 */
async function clientProject(document: OpenApiDocument): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), 'openapi-client-'));
  await symlink(join(ROOT, 'node_modules'), join(folder, 'node_modules'), 'dir');
  await writeFile(join(folder, 'openapi.json'), JSON.stringify(document));
  await writeFile(join(folder, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  await writeFile(join(folder, 'flow.ts'), await readFile(join(ROOT, 'test', 'openapi-client', 'flow.ts')));
  await writeFile(join(folder, 'readme-sketch.ts'), await readmeSketch());
  await writeFile(
    join(folder, 'tsconfig.json'),
    JSON.stringify({
      // A browser front end: DOM types, no Node types. Strictness comes from the command line.
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022', 'DOM', 'DOM.Iterable'], types: [] },
      files: ['flow.ts', 'readme-sketch.ts'],
    }),
  );
  const generated = await tool(join(BIN, 'openapi-typescript'), ['openapi.json', '-o', 'api.d.ts'], folder);
  if (generated.code !== 0) throw new Error(`openapi-typescript failed: ${generated.output}`);
  return folder;
}

const typeCheck = (folder: string) => tool(join(BIN, 'tsc'), ['-p', 'tsconfig.json', '--strict', '--noEmit'], folder);

describe('openapi.json, the committed contract', () => {
  let testApp: TestApp;
  let served: OpenApiDocument;
  let committed: OpenApiDocument;
  const folders: string[] = [];

  beforeAll(async () => {
    testApp = await startApp({});
    const schema = await new HttpClient(testApp.baseUrl).get('/api/schema/');
    expect(schema.status).toBe(200);
    served = schema.body as OpenApiDocument;
    committed = JSON.parse(await readFile(COMMITTED, 'utf8')) as OpenApiDocument;
  });

  afterAll(async () => {
    await testApp.close();
    await Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true })));
    console.log(`OpenAPI contract\n${report.join('\n')}`);
  });

  it('is the document the service serves at /api/schema/', () => {
    const found = differences(committed, served);
    if (found.length > 0) {
      throw new Error(`openapi.json differs from the document the service serves at ${found.join(', ')}. Run \`npm run openapi\` and commit openapi.json.`);
    }
  });

  it('gives every operation a summary, its security, and a typed body for every error', () => {
    const problems: string[] = [];
    for (const [path, item] of Object.entries(committed.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        const what = `${method.toUpperCase()} ${path}`;
        if (!operation.summary) problems.push(`${what}: no summary`);
        if (!Array.isArray(operation.security)) problems.push(`${what}: no security (public operations say [])`);
        for (const [status, response] of Object.entries(operation.responses)) {
          if (Number(status) >= 400 && !response.content?.['application/json']?.schema) problems.push(`${what} ${status}: no body schema`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('generates a client that compiles with tsc --strict, runs the flow, and gets the documented bodies', async () => {
    const folder = await clientProject(committed);
    folders.push(folder);
    // The program and the README's sketch, against the generated types.
    const checked = await typeCheck(folder);
    expect([checked.code, checked.output]).toEqual([0, '']);

    // Run what was just type-checked: transpiled as is, against the live service.
    const source = await readFile(join(folder, 'flow.ts'), 'utf8');
    const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
    await writeFile(join(folder, 'flow.js'), outputText);
    await writeFile(
      join(folder, 'run.js'),
      "import { runFlow } from './flow.js';\nprocess.stdout.write(JSON.stringify(await runFlow(process.argv[2], JSON.parse(process.argv[3]))));\n",
    );
    const user = newUser('client');
    const ran = await tool(process.execPath, ['run.js', testApp.baseUrl, JSON.stringify(user)], folder);
    expect([ran.code, ran.code === 0 ? '' : ran.output]).toEqual([0, '']);
    const { exchanges, read } = JSON.parse(ran.output) as { exchanges: Exchange[]; read: Record<string, unknown> };

    // What the program read through the generated types is what the service said.
    expect(read).toEqual({
      userId: expect.any(Number),
      usernameErrors: ['A user with that username already exists.'],
      wrongDetail: 'No active account found with the given credentials',
      anonymousDetail: 'Authentication credentials were not provided.',
      sessionId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      revokedMessage: 'Token is blacklisted',
      deadDetail: 'Token is blacklisted',
      endedDetail: 'Not found.',
    });
    // And every answer it got, successes and errors, is documented with that status, body and headers.
    const statuses = exchanges.map((exchange) => `${exchange.method} ${exchange.path} ${exchange.status}`);
    report.push(`typed client: ${exchanges.length} calls: ${statuses.join(', ')}`);
    expect(statuses).toEqual(expect.arrayContaining(['POST /api/register/ 400', 'POST /api/token/ 401', 'GET /api/me/ 401', 'DELETE /api/sessions/{id}/ 404']));
    expect(exchanges.flatMap((exchange) => exchangeProblems(committed, exchange))).toEqual([]);
  });

  it('the errors the flow does not meet are as documented too: unparseable bodies, 413, 415, 429 with Retry-After', async () => {
    const exchanges: Exchange[] = [];
    const send = async (baseUrl: string, path: string, contentType: string, body: string) => {
      const response = await fetch(`${baseUrl}${path}`, { method: 'POST', headers: { 'content-type': contentType }, body });
      const exchange = { method: 'POST', path, status: response.status, body: await response.text(), headers: Object.fromEntries(response.headers.entries()) };
      exchanges.push(exchange);
      return exchange;
    };
    const user = newUser('contract');
    const malformed = await send(testApp.baseUrl, '/api/register/', 'application/json', '{"username": ');
    const notAnObject = await send(testApp.baseUrl, '/api/token/', 'text/plain', 'username=alice');
    const tooLarge = await send(testApp.baseUrl, '/api/register/', 'application/json', JSON.stringify({ ...user, password: 'x'.repeat(20_000) }));
    const xml = await send(testApp.baseUrl, '/api/token/', 'application/xml', '<username>alice</username>');
    // Its own key prefix, so this budget of one counts only this app's requests.
    const throttledApp = await startApp({ RATE_LIMIT_IP_PER_MINUTE: '1', REDIS_KEY_PREFIX: `${process.env.REDIS_KEY_PREFIX}openapi-429:` });
    let throttled: Exchange;
    try {
      const form = 'application/x-www-form-urlencoded';
      await send(throttledApp.baseUrl, '/api/password/reset/', form, new URLSearchParams({ email: user.email }).toString());
      throttled = await send(throttledApp.baseUrl, '/api/password/reset/', form, new URLSearchParams({ email: user.email }).toString());
    } finally {
      await throttledApp.close();
    }
    report.push(`other errors: ${exchanges.map((exchange) => `${exchange.path} ${exchange.status} ${exchange.body.slice(0, 60)}`).join('; ')}`);
    expect([malformed.status, notAnObject.status, tooLarge.status, xml.status, throttled.status]).toEqual([400, 400, 413, 415, 429]);
    expect(JSON.parse(malformed.body)).toEqual({ detail: expect.stringContaining('JSON') });
    expect(JSON.parse(notAnObject.body)).toEqual({ non_field_errors: ['Invalid data. Expected a dictionary, but got str.'] });
    expect(throttled.headers['retry-after']).toMatch(/^[1-9]\d*$/);
    expect(exchanges.flatMap((exchange) => exchangeProblems(committed, exchange))).toEqual([]);
  });

  it('the same program does not compile against a document without error bodies (the check above can fail)', async () => {
    const stripped = structuredClone(committed);
    for (const item of Object.values(stripped.paths)) {
      for (const operation of Object.values(item)) {
        for (const status of Object.keys(operation.responses)) if (Number(status) >= 400) delete operation.responses[status];
      }
    }
    const folder = await clientProject(stripped);
    folders.push(folder);
    const checked = await typeCheck(folder);
    const errors = checked.output.split('\n').filter((line) => line.includes('error TS'));
    report.push(`without error schemas: tsc exit ${checked.code}, ${errors.length} errors, e.g. ${errors[0] ?? 'none'}`);
    expect(checked.code).not.toBe(0);
    expect(errors.length).toBeGreaterThan(0);
  });
});
