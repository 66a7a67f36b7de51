/**
 * The published build: one source tree, an ES module build and a CommonJS build behind the `exports`
 * map, each with its own declarations. `@opentelemetry/api` (a peer) stays external, so each build
 * uses the copy the application resolves for its own module format. zod/mini and the one constant
 * taken from @opentelemetry/semantic-conventions are bundled, tree-shaken: they are most of the import
 * cost otherwise (`npm run bench` reports it).
 */
import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm', 'cjs'],
  outExtension: ({ format }) => ({ js: format === 'cjs' ? '.cjs' : '.mjs' }),
  dts: true,
  tsconfig: 'tsconfig.build.json',
  platform: 'node',
  target: 'node18',
  outDir: 'dist',
  clean: true,
  splitting: false,
  external: ['@opentelemetry/api'],
  noExternal: ['zod', '@opentelemetry/semantic-conventions'],
});
