/**
 * A tool service in its own process (a CommonJS fixture that loads the built package from ALM_DIST and
 * prints `{"port": N}` once it listens on 127.0.0.1), and a caller that sends the active context with
 * each request through the global propagator, as an instrumented HTTP client does.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { context, propagation } from '@opentelemetry/api';
import { ROOT } from './scripts';

export interface Service {
  child: ChildProcess;
  port: number;
  /** GET `path` with the active context's trace and baggage headers; the JSON answer. */
  call<T>(path: string): Promise<T>;
}

export async function startService(fixture: string, env: Record<string, string> = {}): Promise<Service> {
  const child = spawn(process.execPath, [fixture], {
    cwd: ROOT,
    env: { ...process.env, ALM_DIST: join(ROOT, 'dist', 'index.cjs'), ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const first = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`${fixture} exited with ${code}`)));
  });
  const { port } = JSON.parse(first) as { port: number };
  const call = async <T>(path: string): Promise<T> => {
    const headers: Record<string, string> = {};
    propagation.inject(context.active(), headers);
    return (await (await fetch(`http://127.0.0.1:${port}${path}`, { headers })).json()) as T;
  };
  return { child, port, call };
}
