/**
 * Cold-start cost of loading alm-otel, over `@opentelemetry/api` alone: each sample is a fresh Node
 * process that loads the API, then alm-otel, timing each step in-process (process start-up itself is
 * excluded). Both entry points are measured: `require('alm-otel')` (the CJS build) and
 * `import('alm-otel')` (the ESM build). A last line gives the whole-process view: the wall time of
 * `node -e "require(api); require(alm-otel)"` less that of `node -e "require(api)"`, start-up and exit
 * included. Run by `npm run bench` after building dist/.
 *
 * Usage: node bench/import-cost.mjs [cjs-entry] [esm-entry]
 */
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const SAMPLES = Number(process.env.BENCH_IMPORT_SAMPLES ?? 15);
const cjsEntry = resolve(process.argv[2] ?? 'dist/index.cjs');
const esmEntry = process.argv[3] === undefined ? resolve('dist/index.mjs') : resolve(process.argv[3]);

const probes = {
  require: `
    const t0 = performance.now(); const m0 = process.memoryUsage().rss;
    require('@opentelemetry/api');
    const t1 = performance.now(); const m1 = process.memoryUsage().rss;
    require(${JSON.stringify(cjsEntry)});
    const t2 = performance.now(); const m2 = process.memoryUsage().rss;
    console.log(JSON.stringify({ api: t1 - t0, alm: t2 - t1, rss: m2 - m1 }));`,
  import: `
    const t0 = performance.now(); const m0 = process.memoryUsage().rss;
    await import('@opentelemetry/api');
    const t1 = performance.now(); const m1 = process.memoryUsage().rss;
    await import(${JSON.stringify(pathToFileURL(esmEntry).href)});
    const t2 = performance.now(); const m2 = process.memoryUsage().rss;
    console.log(JSON.stringify({ api: t1 - t0, alm: t2 - t1, rss: m2 - m1 }));`,
};

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

for (const [kind, code] of Object.entries(probes)) {
  const runs = [];
  for (let i = 0; i < SAMPLES; i++) {
    const args = kind === 'import' ? ['--input-type=module', '-e', code] : ['-e', code];
    runs.push(JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8' })));
  }
  const api = median(runs.map((r) => r.api));
  const alm = median(runs.map((r) => r.alm));
  const rss = median(runs.map((r) => r.rss)) / 1024 / 1024;
  console.log(
    `${`${kind}('alm-otel')`.padEnd(20)} ${alm.toFixed(1).padStart(6)} ms, ${rss.toFixed(1)} MB RSS over @opentelemetry/api (api itself ${api.toFixed(1)} ms; median of ${SAMPLES} fresh processes; goal <= 40 ms)`,
  );
}

const wall = { api: [], alm: [] };
for (let i = 0; i < SAMPLES; i++) {
  for (const [key, code] of [
    ['api', "require('@opentelemetry/api')"],
    ['alm', `require('@opentelemetry/api'); require(${JSON.stringify(cjsEntry)})`],
  ]) {
    const t0 = performance.now();
    execFileSync(process.execPath, ['-e', code]);
    wall[key].push(performance.now() - t0);
  }
}
const apiWall = median(wall.api);
console.log(
  `${'whole process'.padEnd(20)} ${(median(wall.alm) - apiWall).toFixed(1).padStart(6)} ms more wall time than node -e "require('@opentelemetry/api')" (${apiWall.toFixed(1)} ms)`,
);
