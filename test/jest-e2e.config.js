// End-to-end tests: the real AppModule on a real PostgreSQL (fresh database per run) and a real Redis.
export default {
  rootDir: '..',
  roots: ['<rootDir>/test'],
  testEnvironment: 'node',
  testRegex: '.*\\.e2e-spec\\.ts$',
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  globalSetup: '<rootDir>/test/setup/global-setup.js',
  globalTeardown: '<rootDir>/test/setup/global-teardown.js',
  setupFilesAfterEnv: ['<rootDir>/test/setup/migrate.ts'],
  // The suites share one PostgreSQL and one Redis on a 2-core machine; running them one at a time keeps
  // fault tests (stopping Redis) from disturbing the others.
  maxWorkers: 1,
  testTimeout: 60000,
};
