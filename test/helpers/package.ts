/**
 * The package as a user gets it: built with the project's build (tsup), laid out as npm packs it
 * (package.json, dist/, testing/), and installed into a throwaway application with npm itself, which
 * links the `bin` and resolves `alm-otel/testing`. Nothing here imports src/: the tests run the
 * installed files in child processes.
 */
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './scripts';

export interface InstalledPackage {
  /** The application directory; `alm-otel` is in its node_modules. */
  app: string;
  /** node_modules/.bin/alm-otel, as npm linked it. */
  bin: string;
  remove(): void;
}

function exec(file: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(file, args, { cwd, timeout: 240_000 }, (error, stdout, stderr) =>
      error
        ? reject(new Error(`${file} ${args.join(' ')} failed: ${error.message}\n${stdout}\n${stderr}`))
        : resolve(stdout),
    ),
  );
}

export async function installPackage(): Promise<InstalledPackage> {
  const dir = mkdtempSync(join(tmpdir(), 'alm-otel-pkg-'));
  const pkg = join(dir, 'pkg');
  const app = join(dir, 'app');
  cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
  cpSync(join(ROOT, 'testing'), join(pkg, 'testing'), { recursive: true });
  // The package's own dependencies (zod, the OTel peers) resolve from the project's node_modules.
  symlinkSync(join(ROOT, 'node_modules'), join(pkg, 'node_modules'));
  // Built once per jest run by its globalSetup (test/helpers/build.cjs), as `npm pack` builds it.
  cpSync(join(ROOT, 'dist'), join(pkg, 'dist'), { recursive: true });
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
  await exec('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', '--no-save', pkg], app);
  return {
    app,
    bin: join(app, 'node_modules', '.bin', 'alm-otel'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment of a child: ours, without colour settings unless given (stdout is a pipe: no colour). */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NO_COLOR;
  delete env.FORCE_COLOR;
  return { ...env, ...extra };
}

/** Run the installed `alm-otel` binary to completion (a non-zero exit is a result, not an error). */
export function runBin(
  pkg: InstalledPackage,
  args: string[],
  options: { input?: string; env?: Record<string, string> } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(pkg.bin, args, { cwd: pkg.app, env: childEnv(options.env) });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/** Start the installed binary and leave it running (for `tail`). */
export function spawnBin(pkg: InstalledPackage, args: string[]): ChildProcessWithoutNullStreams {
  return spawn(pkg.bin, args, { cwd: pkg.app, env: childEnv() });
}

/** Write a file in the application directory; returns its path. */
export function appFile(pkg: InstalledPackage, name: string, content: string): string {
  const path = join(pkg.app, name);
  writeFileSync(path, content);
  return path;
}
