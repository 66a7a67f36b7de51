/**
 * `alm-otel/testing` as a user gets it: the package built and installed by npm into a throwaway
 * application, used from `node:test` (CommonJS and ESM), and type-checked by TypeScript under both
 * the node16 resolution (package.json `exports`) and the older node10 one (testing/package.json).
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { installPackage, type InstalledPackage } from '../helpers/package';
import { ROOT } from '../helpers/scripts';

jest.setTimeout(120_000);

let pkg: InstalledPackage;
beforeAll(async () => {
  pkg = await installPackage();
}, 300_000);
afterAll(() => pkg?.remove());

function run(file: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) =>
    execFile(file, args, { cwd: pkg.app, timeout: 100_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, out: stdout + stderr }),
    ),
  );
}

const CJS = `const test = require('node:test');
const assert = require('node:assert/strict');
const { ALM, ToolDeniedError } = require('alm-otel');
const { createTestALM } = require('alm-otel/testing');

test('a denied call is recorded', async (t) => {
  const alm = createTestALM({ policy: { deniedTools: ['rm'] } });
  t.after(() => alm.shutdown());
  assert.ok(alm instanceof ALM, 'the ALM class the application imports, not a bundled copy');
  const rm = alm.tool('rm', () => 'gone');
  alm.run(() => assert.throws(() => rm(), ToolDeniedError));
  const [response] = await alm.eventsOfType('tool.response');
  assert.equal(response.metadata.status, 'denied');
  assert.equal(alm.spanTreeText(), 'invoke_agent test-agent  ✓\\n  execute_tool rm  ⊘ DENIED');
});

test('instances do not share anything', async (t) => {
  const a = createTestALM({ agentId: 'a' });
  const b = createTestALM({ agentId: 'b' });
  t.after(() => Promise.all([a.shutdown(), b.shutdown()]));
  a.run(() => a.tool('x', () => 1)());
  assert.equal((await b.events()).length, 0);
  assert.equal(b.spans().length, 0);
  assert.equal((await a.events()).length, 5);
});
`;

const ESM = `import test from 'node:test';
import assert from 'node:assert/strict';
import { ALM } from 'alm-otel';
import { createTestALM } from 'alm-otel/testing';

test('works from ESM', async () => {
  const alm = createTestALM();
  assert.ok(alm instanceof ALM);
  await alm.run(async () => alm.tool('t', async () => 1)());
  assert.deepEqual((await alm.runEvents()).map((e) => e.event_type), ['run.start', 'tool.request', 'policy.decision', 'tool.response', 'run.end']);
  await alm.shutdown();
});
`;

const FAILING = `const test = require('node:test');
const assert = require('node:assert/strict');
const { createTestALM } = require('alm-otel/testing');

test('expects an event that never comes', async () => {
  const alm = createTestALM();
  alm.run(() => alm.tool('t', () => 1)());
  assert.equal((await alm.eventsOfType('handoff')).length, 1);
});
`;

const TYPES = `import { createTestALM, type TestALM, type SpanNode } from 'alm-otel/testing';
import type { ALMEvent } from 'alm-otel';

export async function check(): Promise<string> {
  const alm: TestALM = createTestALM({ policy: { maxToolCallsPerRun: 1 } });
  const events: ALMEvent[] = await alm.events();
  const tree: SpanNode | undefined = alm.spanTree();
  const denied = await alm.eventsOfType('tool.response');
  return String(events.length) + tree?.name + denied[0]?.metadata.status;
}
`;

describe('alm-otel/testing, installed', () => {
  it('runs under node:test, from CommonJS and ESM', async () => {
    writeFileSync(join(pkg.app, 'alm.test.js'), CJS);
    writeFileSync(join(pkg.app, 'alm.test.mjs'), ESM);
    const { code, out } = await run(process.execPath, ['--test', 'alm.test.js', 'alm.test.mjs']);
    expect(out).toContain('# pass 3');
    expect(out).toContain('# fail 0');
    expect(code).toBe(0);
  });

  it('lets a node:test test fail', async () => {
    writeFileSync(join(pkg.app, 'failing.test.js'), FAILING);
    const { code, out } = await run(process.execPath, ['--test', 'failing.test.js']);
    expect(out).toContain('# fail 1');
    expect(code).toBe(1);
  });

  it.each([
    ['node16', 'node16'],
    ['commonjs', 'node'],
  ])('type-checks with module %s, moduleResolution %s', async (module, moduleResolution) => {
    writeFileSync(join(pkg.app, 'check.ts'), TYPES);
    const tsconfig = `tsconfig.${moduleResolution}.json`;
    writeFileSync(
      join(pkg.app, tsconfig),
      JSON.stringify({
        compilerOptions: {
          module,
          moduleResolution,
          target: 'ES2022',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ['node'],
          typeRoots: [join(ROOT, 'node_modules/@types')],
        },
        files: ['check.ts'],
      }),
    );
    const { code, out } = await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', tsconfig]);
    expect(out).toBe('');
    expect(code).toBe(0);
  });
});
