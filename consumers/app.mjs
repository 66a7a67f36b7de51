// An ES module application: import 'alm-otel' must load the ESM build, with the app's own API copy.
import { createRequire } from 'node:module';
import * as api from '@opentelemetry/api';
import { ALM, ToolDeniedError } from 'alm-otel';
import { check, runScenario } from './scenario.cjs';
import { makeSetup } from './providers.cjs';

const resolved = import.meta.resolve('alm-otel');
check(resolved.endsWith('/dist/index.mjs'), `import 'alm-otel' resolved to ${resolved}`);
const require = createRequire(import.meta.url);
const apiCopies = require('@opentelemetry/api').trace === api.trace ? 1 : 2;
// Both builds in one process (a dependency may require alm-otel): its errors stay recognisable.
const cjsBuild = require('alm-otel');
check(cjsBuild.ALM !== ALM, 'expected the CJS build to be a separate module from the ESM build');
check(
  new cjsBuild.ToolDeniedError('t', 'id', 'denied') instanceof ToolDeniedError,
  'a ToolDeniedError from the CJS build is not instanceof the ESM build ToolDeniedError',
);
const setup = await makeSetup(process.argv[2], (name) => import(name), api);
const result = await runScenario({ ALM, ToolDeniedError, setup });
console.log(JSON.stringify({ ...result, build: 'esm', apiCopies }));
