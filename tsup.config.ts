/**
 * The published build: one source tree, an ES module build and a CommonJS build behind the `exports`
 * map, each with its own declarations, for the library (`alm-otel`) and its testing helpers
 * (`alm-otel/testing`), plus the `alm-otel` command (CommonJS). `@opentelemetry/api` (a peer) stays
 * external, so each build uses the copy the application resolves for its own module format; so does
 * the optional `@opentelemetry/sdk-trace` peer the testing helpers run on. zod/mini and the one constant
 * taken from @opentelemetry/semantic-conventions are bundled, tree-shaken: they are most of the import
 * cost otherwise (`npm run bench` reports it).
 */
import { defineConfig, type Options } from 'tsup';

const shared: Options = {
  outExtension: ({ format }) => ({ js: format === 'cjs' ? '.cjs' : '.mjs' }),
  tsconfig: 'tsconfig.build.json',
  platform: 'node',
  target: 'node18',
  outDir: 'dist',
  splitting: false,
  // 'alm-otel': the testing helpers load the library's own entry, so there is one ALM class.
  external: ['@opentelemetry/api', '@opentelemetry/sdk-trace', '@opentelemetry/otlp-transformer', 'alm-otel', 'redis'],
  noExternal: ['zod', '@opentelemetry/semantic-conventions', '@opentelemetry/core'],
  // __filename in the ES module build (the testing helpers resolve @opentelemetry/sdk-trace from it).
  shims: true,
  // The ES module build gets a `require` of its own, for the optional packages loaded only when an
  // option asks for them (the otlp sink's encoder, the Redis client): synchronously, so that a missing one fails at `new ALM()`.
  banner: ({ format }) =>
    format === 'esm'
      ? {
          js: "import { createRequire as __almCreateRequire } from 'node:module';\nconst require = __almCreateRequire(import.meta.url);",
        }
      : {},
};

export default defineConfig([
  {
    ...shared,
    entry: { index: 'src/index.ts', 'testing/index': 'src/testing/index.ts' },
    format: ['esm', 'cjs'],
    dts: true,
  },
  { ...shared, entry: { 'cli/index': 'src/cli/index.ts' }, format: ['cjs'], dts: false },
]);
