/** Unit and integration tests: `npm test`. The Jaeger end-to-end test has its own runner (`npm run test:e2e`). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/test/e2e/'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  // The package's own build (tsup), for the tests that install it as users get it.
  globalSetup: '<rootDir>/test/helpers/build.cjs',
  // alm-otel/testing imports the package entry; from source, that is src/index.ts.
  moduleNameMapper: { '^alm-otel$': '<rootDir>/src/index.ts' },
};
