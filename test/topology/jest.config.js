// `npm run test:topology`: the whole deployment at once (nginx, two web processes, a worker, a
// PostgreSQL primary with a lagging replica, a Redis Cluster with replicas), all private processes
// on loopback. Not part of `npm test`: it starts its own servers and needs dist/ and nginx.
export default {
  rootDir: '../..',
  roots: ['<rootDir>/test/topology'],
  testEnvironment: 'node',
  testRegex: '.*\\.topology-spec\\.ts$',
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  maxWorkers: 1,
  testTimeout: 90000,
};
