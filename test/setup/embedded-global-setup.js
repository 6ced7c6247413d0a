import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The environment of the embedded run: the contract suites' settings (test/setup/global-setup.js)
 * without DATABASE_URL and REDIS_URL, and a temporary DATA_DIR that the teardown deletes.
 */
export default async function embeddedGlobalSetup() {
  for (const name of ['DATABASE_URL', 'DATABASE_REPLICA_URL', 'DATABASE_REPLICA_URLS', 'REDIS_URL', 'REDIS_CLUSTER']) delete process.env[name];
  Object.assign(process.env, {
    NODE_ENV: 'test',
    E2E_EMBEDDED: 'true',
    DATA_DIR: mkdtempSync(join(tmpdir(), 'auth-e2e-embedded-')),
    SWAGGER_UI_ENABLED: 'false',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'error',
    RATE_LIMIT_IP_PER_MINUTE: '100000',
    JWT_SIGNING_KEY: 'e2e-signing-key-that-is-long-enough-0123456789',
  });
}
