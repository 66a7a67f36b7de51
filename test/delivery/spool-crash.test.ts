/**
 * The spool through real crashes: child processes killed with SIGKILL at random moments, each
 * followed by a restart on the same spoolDir; and two processes on one directory at once. The
 * receiver is a real node:http server on 127.0.0.1.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ALMEvent, PipelineStats } from '../../src';
import { sleep } from '../helpers/harness';
import { Receiver } from '../helpers/receiver';
import { ROOT } from '../helpers/scripts';

const AGENT = join(ROOT, 'test', 'fixtures', 'scripts', 'spool-agent.ts');
/**
 * Events emitted longer ago than this before a kill must survive it. The spool writes on the next
 * turn of the event loop; on a machine so loaded that the agent barely runs, wall-clock time alone
 * says little, so an event also counts as old only once the agent's loop has turned TURNS more times
 * after it (each at least 1 ms apart): time the agent actually ran.
 */
const WINDOW_MS = 10;
const TURNS = 10;

const children = new Set<ChildProcessWithoutNullStreams>();
afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

interface Agent {
  child: ChildProcessWithoutNullStreams;
  /** [calls done, at] after each run. */
  progress: [number, number][];
  stats: Promise<PipelineStats | undefined>;
  exited: Promise<void>;
}

function startAgent(dir: string, url: string, label: string, calls: number): Agent {
  // One process (node with tsx's loader, not the tsx wrapper), so that SIGKILL hits the agent itself.
  const child = spawn(process.execPath, ['--import', 'tsx', AGENT, dir, url, label, String(calls)], { cwd: ROOT });
  children.add(child);
  const progress: [number, number][] = [];
  let stdout = '';
  let stderr = '';
  let resolveStats!: (s: PipelineStats | undefined) => void;
  const stats = new Promise<PipelineStats | undefined>((resolve) => (resolveStats = resolve));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    const lines = stdout.split('\n');
    stdout = lines.pop()!;
    for (const line of lines) {
      if (line.startsWith('done ')) resolveStats(JSON.parse(line.slice(5)) as PipelineStats);
      else progress.push(line.split(' ').map(Number) as [number, number]);
    }
  });
  const exited = new Promise<void>((resolve) =>
    child.on('exit', (code, signal) => {
      if (code !== 0 && signal !== 'SIGKILL') process.stderr.write(`spool agent ${label} exited ${code}: ${stderr}\n`);
      resolveStats(undefined);
      resolve();
    }),
  );
  return { child, progress, stats, exited };
}

/** tool.request + tool.response of each call, by `${label}/${i}`. */
function callsReceived(receiver: Receiver): Set<string> {
  const events = [...receiver.events.values()];
  const responded = new Set(events.filter((e) => e.event_type === 'tool.response').map((e) => e.metadata.tool_call_id));
  const calls = new Set<string>();
  for (const e of events as ALMEvent[]) {
    if (e.event_type !== 'tool.request' || !responded.has(e.metadata.tool_call_id)) continue;
    const inputs = (e.metadata.args as { inputs: { label: string; i: number } }).inputs;
    calls.add(`${inputs.label}/${inputs.i}`);
  }
  return calls;
}

const spoolFiles = (dir: string) => readdirSync(dir).filter((name) => name.endsWith('.spool'));

describe('spool through crashes', () => {
  let receiver: Receiver;
  beforeEach(async () => {
    receiver = new Receiver();
    await receiver.start(0);
  });
  afterEach(() => receiver.stop());

  it(`five kill -9 at random moments, each followed by a restart on the same spool, lose no event emitted more than ${WINDOW_MS} ms before the kill`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'alm-crash-'));
    const killed: { label: string; at: number; progress: [number, number][] }[] = [];
    for (let k = 0; k < 5; k++) {
      const agent = startAgent(dir, receiver.url, `gen${k}`, 1e9);
      for (let i = 0; i < 3000 && agent.progress.length === 0; i++) await sleep(10);
      expect(agent.progress.length).toBeGreaterThan(0);
      await sleep(50 + Math.random() * 300);
      const at = Date.now();
      agent.child.kill('SIGKILL');
      await agent.exited;
      killed.push({ label: `gen${k}`, at, progress: agent.progress });
    }
    const last = startAgent(dir, receiver.url, 'final', 50);
    const stats = await last.stats;
    await last.exited;
    expect(stats).toMatchObject({ failed: 0, dropped: 0, queued: 0 });
    const received = callsReceived(receiver);
    for (const { label, at, progress } of killed) {
      // Calls done by WINDOW_MS before the kill; each must have arrived (some later ones may have too).
      const safe =
        progress
          .slice(0, -TURNS)
          .filter(([, t]) => t <= at - WINDOW_MS)
          .at(-1)?.[0] ?? 0;
      const missing: string[] = [];
      for (let i = 0; i < safe; i++) if (!received.has(`${label}/${i}`)) missing.push(`${label}/${i}`);
      expect(missing).toEqual([]);
    }
    for (let i = 0; i < 50; i++) expect(received.has(`final/${i}`)).toBe(true);
    expect(spoolFiles(dir)).toEqual([]);
  }, 120_000);

  it('two processes on one directory write their own files; a third started meanwhile claims neither', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'alm-crash-'));
    receiver.fallback = () => ({ kind: 'hang' });
    const a = startAgent(dir, receiver.url, 'a', 200);
    const b = startAgent(dir, receiver.url, 'b', 200);
    // Both have events on disk at the same time, each in its own files.
    const owners = () => new Set(spoolFiles(dir).map((name) => /-(\d+)-[0-9a-f]{8}-\d+\.spool$/.exec(name)![1]));
    for (let i = 0; i < 3000 && owners().size < 2; i++) await sleep(10);
    expect(owners()).toEqual(new Set([String(a.child.pid), String(b.child.pid)]));
    const c = startAgent(dir, receiver.url, 'c', 5);
    for (let i = 0; i < 3000 && c.progress.length === 0; i++) await sleep(10);
    await sleep(100); // c has looked at the directory by now, and must have left a's and b's files alone
    receiver.fallback = () => ({ kind: 'ok' });
    receiver.release();
    const [sa, sb, sc] = await Promise.all([a.stats, b.stats, c.stats]);
    await Promise.all([a.exited, b.exited, c.exited]);
    // Each delivered exactly its own events: 40 runs × 17, and 1 run × 17.
    expect(sa).toMatchObject({ emitted: 680, delivered: 680, failed: 0, dropped: 0 });
    expect(sb).toMatchObject({ emitted: 680, delivered: 680, failed: 0, dropped: 0 });
    expect(sc).toMatchObject({ emitted: 17, delivered: 17, failed: 0, dropped: 0 });
    expect(receiver.events.size).toBe(680 * 2 + 17);
    expect(spoolFiles(dir)).toEqual([]);
  }, 60_000);
});
