// A CommonJS application: require('alm-otel') must load the CJS build.
'use strict';

const path = require('node:path');
const api = require('@opentelemetry/api');
const { ALM, ToolDeniedError } = require('alm-otel');
const { check, runScenario } = require('./scenario.cjs');
const { makeSetup } = require('./providers.cjs');

async function main() {
  const resolved = require.resolve('alm-otel');
  check(resolved.endsWith(path.join('dist', 'index.cjs')), `require('alm-otel') resolved to ${resolved}`);
  const setup = await makeSetup(process.argv[2], async (name) => require(name), api);
  const result = await runScenario({ ALM, ToolDeniedError, setup });
  console.log(JSON.stringify({ ...result, build: 'cjs' }));
}

main().catch((error) => {
  console.error(error && error.stack ? error.stack : error);
  process.exit(1);
});
