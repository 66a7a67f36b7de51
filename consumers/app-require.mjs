// An ES module application that loads alm-otel with require (through createRequire, as a CommonJS
// dependency would): alm-otel's CJS build then uses the CJS copy of @opentelemetry/api while the app
// registers its provider through the ESM copy. On api 1.10 these are two copies; spans must still come.
import { createRequire } from 'node:module';
import * as api from '@opentelemetry/api';
import { check, runScenario } from './scenario.cjs';
import { makeSetup } from './providers.cjs';

const require = createRequire(import.meta.url);
const resolved = require.resolve('alm-otel');
check(resolved.endsWith('index.cjs'), `require('alm-otel') resolved to ${resolved}`);
const { ALM, ToolDeniedError } = require('alm-otel');
const apiCopies = require('@opentelemetry/api').trace === api.trace ? 1 : 2;
const expected = Number(process.argv[3] ?? apiCopies);
check(apiCopies === expected, `expected ${expected} copies of @opentelemetry/api, found ${apiCopies}`);
const setup = await makeSetup(process.argv[2], (name) => import(name), api);
const result = await runScenario({ ALM, ToolDeniedError, setup });
console.log(JSON.stringify({ ...result, build: 'cjs from esm', apiCopies }));
