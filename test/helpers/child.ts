/** Running a snippet against the built package (dist/, built by jest's globalSetup) in a real child process. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './scripts';

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Run `code` with `node`, as an ES module (`import` the package from `ALM_DIST`) or as CommonJS
 * (`require(ALM_DIST)`); `ALM_DIST` is replaced by the built entry's path.
 */
export function runNode(code: string, kind: 'esm' | 'cjs' = 'esm', cwd = ROOT, timeout = 60_000): Promise<ChildResult> {
  const entry = join(ROOT, 'dist', kind === 'esm' ? 'index.mjs' : 'index.cjs');
  const source = code.replaceAll('ALM_DIST', JSON.stringify(entry));
  const args = kind === 'esm' ? ['--input-type=module', '-e', source] : ['-e', source];
  return new Promise((resolve) =>
    execFile(process.execPath, args, { cwd, timeout }, (error, stdout, stderr) => {
      const e = error as (Error & { code?: unknown; signal?: NodeJS.Signals | null }) | null;
      resolve({
        code: e === null ? 0 : typeof e.code === 'number' ? e.code : null,
        signal: e?.signal ?? null,
        stdout,
        stderr,
      });
    }),
  );
}
