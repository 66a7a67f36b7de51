/**
 * `alm-otel/testing` without `@opentelemetry/sdk-trace` installed: an application whose node_modules
 * holds the built package and `@opentelemetry/api` only. The error must name the package, its range
 * and the install lines, from CommonJS and from ESM, instead of a bare ERR_MODULE_NOT_FOUND.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/scripts';

let app: string;
beforeAll(() => {
  app = mkdtempSync(join(tmpdir(), 'alm-no-sdk-'));
  const pkg = join(app, 'node_modules', 'alm-otel');
  mkdirSync(join(app, 'node_modules', '@opentelemetry'), { recursive: true });
  for (const part of ['package.json', 'dist', 'testing'])
    cpSync(join(ROOT, part), join(pkg, part), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules', '@opentelemetry', 'api'), join(app, 'node_modules', '@opentelemetry', 'api'));
  writeFileSync(join(app, 'package.json'), '{"name":"app","version":"1.0.0","private":true}');
});
afterAll(() => rmSync(app, { recursive: true, force: true }));

function node(args: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, args, { cwd: app, timeout: 30_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

const EXPECTED = [
  'alm-otel/testing needs @opentelemetry/sdk-trace (>=2.9.0 <4), an optional peer dependency of alm-otel that is not installed',
  'npm install --save-dev @opentelemetry/sdk-trace@^3',
  'npm install --save-dev @opentelemetry/sdk-trace@^2.9.0 @opentelemetry/api@~1.9.0',
];

describe('alm-otel/testing without @opentelemetry/sdk-trace', () => {
  it('imports, and createTestALM says what to install (CommonJS)', async () => {
    writeFileSync(
      join(app, 't.cjs'),
      "const t = require('alm-otel/testing'); try { t.createTestALM(); } catch (e) { console.log(e.message); process.exit(3); }",
    );
    const { code, stdout, stderr } = await node(['t.cjs']);
    expect(stderr).toBe('');
    expect(code).toBe(3);
    for (const part of EXPECTED) expect(stdout).toContain(part);
  });

  it('imports, and createTestALM says what to install (ESM)', async () => {
    writeFileSync(
      join(app, 't.mjs'),
      "import { createTestALM } from 'alm-otel/testing'; try { createTestALM(); } catch (e) { console.log(e.message); process.exit(3); }",
    );
    const { code, stdout } = await node(['t.mjs']);
    expect(code).toBe(3);
    for (const part of EXPECTED) expect(stdout).toContain(part);
    expect(stdout).not.toContain('ERR_MODULE_NOT_FOUND');
  });
});
