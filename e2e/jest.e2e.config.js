/**
 * End-to-end tests against real Jaeger v2 and OpenTelemetry Collector binaries: `npm run test:e2e`
 * (e2e/run.sh builds or reuses the binaries, then runs this). `npm test` does not run these.
 */
module.exports = {
  rootDir: '..',
  testEnvironment: 'node',
  roots: ['<rootDir>/test/e2e'],
  testMatch: ['**/*.e2e.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  testTimeout: 120_000,
};
