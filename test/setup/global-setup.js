import { readFileSync } from 'node:fs';
import pg from 'pg';
import { ADMIN_DATABASE_URL, databaseUrlFor, REDIS_URL } from './test-env.js';

/**
 * Creates the run's fresh database and gives the run its own Redis key prefix. Migrations are then
 * applied once by the first suite (test/setup/migrate.ts; later suites find nothing pending).
 */
export default async function globalSetup() {
  // The suites (and the dist/ processes they spawn with process.execPath) run on the project's Node:
  // npm scripts put node_modules/.bin/node (the `node` dev dependency) first on PATH.
  const wanted = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).engines.node.split('.')[0];
  if (process.versions.node.split('.')[0] !== wanted) {
    throw new Error(`e2e tests run on Node ${wanted} (package.json engines), not ${process.versions.node}: run them through npm (npm test, npx jest)`);
  }
  const runId = `${Date.now().toString(36)}${process.pid.toString(36)}`;
  const database = `auth_e2e_${runId}`;
  const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(database)}`);
  await admin.end();

  Object.assign(process.env, {
    NODE_ENV: 'test',
    E2E_DATABASE: database,
    DATABASE_URL: databaseUrlFor(database),
    // The local PostgreSQL has no TLS; processes a suite starts in production mode (where DATABASE_SSL
    // defaults to require) inherit this. The Heroku suite unsets it against its own TLS server.
    DATABASE_SSL: 'off',
    REDIS_URL,
    REDIS_KEY_PREFIX: `e2e:${runId}:`,
    BULLMQ_PREFIX: `{e2e-${runId}}`,
    // Swagger UI needs @fastify/static (ESM only), which Jest cannot load; the JSON document is still served.
    SWAGGER_UI_ENABLED: 'false',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'error',
    // All suites call from 127.0.0.1; the rate-limit suite sets its own small budgets.
    RATE_LIMIT_IP_PER_MINUTE: '100000',
    JWT_SIGNING_KEY: 'e2e-signing-key-that-is-long-enough-0123456789',
  });
}
