// The contract suites again, in embedded mode (npm run test:e2e:embedded, part of npm test): no
// DATABASE_URL and no REDIS_URL, so each suite's app runs PGlite in process on the run's temporary
// DATA_DIR (migrated when it starts) and keeps the Redis roles in memory.
import base from './jest-e2e.config.js';

export default {
  ...base,
  testRegex: '/(auth|sessions|lockout|bad-input)\\.e2e-spec\\.ts$',
  globalSetup: '<rootDir>/test/setup/embedded-global-setup.js',
  globalTeardown: '<rootDir>/test/setup/embedded-global-teardown.js',
  // The embedded runtime migrates its database itself (test/setup/migrate.ts needs a server).
  setupFilesAfterEnv: [],
  // PGlite's first start runs initdb in WebAssembly: slow on a busy 2-core machine.
  testTimeout: 120000,
};
