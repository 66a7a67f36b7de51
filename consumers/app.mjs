// An ES module application: import 'alm-otel' must load the ESM build, with the app's own API copy.
import { createRequire } from 'node:module';
import * as api from '@opentelemetry/api';
import { ALM, ToolDeniedError } from 'alm-otel';
import { check, runScenario } from './scenario.cjs';
import { makeSetup } from './providers.cjs';

const resolved = import.meta.resolve('alm-otel');
check(resolved.endsWith('/dist/index.mjs'), `import 'alm-otel' resolved to ${resolved}`);
const apiCopies = createRequire(import.meta.url)('@opentelemetry/api').trace === api.trace ? 1 : 2;
const setup = await makeSetup(process.argv[2], (name) => import(name), api);
const result = await runScenario({ ALM, ToolDeniedError, setup });
console.log(JSON.stringify({ ...result, build: 'esm', apiCopies }));
