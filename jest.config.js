// Unit tests: *.spec.ts beside the code. Runs in Jest's ESM mode (see package.json "test").
export default {
  rootDir: '.',
  roots: ['<rootDir>/src', '<rootDir>/migrations'],
  testEnvironment: 'node',
  testRegex: '.*\\.spec\\.ts$',
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
};
