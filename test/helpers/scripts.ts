/** Running the project's TypeScript files as a user would: `tsx` in a child process. */
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import type { ALMEvent } from '../../src';
import { validated } from './harness';

export const ROOT = join(__dirname, '..', '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

/** Run a file (relative to the repo root) to completion; rejects on a non-zero exit. */
export function runTsx(
  file: string,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) =>
    execFile(
      TSX,
      [join(ROOT, file), ...args],
      { cwd: ROOT, env: { ...process.env, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => (error ? reject(error) : resolve({ stdout, stderr })),
    ),
  );
}

/** Start a file and leave it running. */
export function spawnTsx(file: string): ChildProcessWithoutNullStreams {
  return spawn(TSX, [join(ROOT, file)], { cwd: ROOT });
}

/** JSON-lines events from a process's stdout, each validated against ALMEventSchema. */
export function eventLines(stdout: string): ALMEvent[] {
  return validated(
    stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as ALMEvent),
  );
}
