/**
 * `npm run bench:delivery`: delivery figures at default settings, to a receiver in its own process
 * on 127.0.0.1 (bench/receiver.ts), printed side by side. Figures, not pass/fail:
 *   json      - what serialising one event costs (JSON.stringify), off the agent's path
 *   drain     - a queue filled to maxQueueSize, then flushed: events per second delivered
 *   paced     - an agent at 10k tool calls/s (30k events/s) for 5 s: dropped, received
 *   tight     - an agent calling tools as fast as it can (yielding every 100 calls) for 5 s
 *   spool     - with events.spoolDir: cost per event on the agent's thread (the call itself, and the
 *               translation, serialisation and hand-over to the writer that run on the same thread)
 *   kill      - with events.spoolDir: an agent (test/fixtures/scripts/spool-agent.ts, 5 calls per
 *               run, a run per ms) killed with SIGKILL 5 times at random moments, each time restarted
 *               on the same directory: events lost, and how long before the kill the oldest was emitted
 * Run with BENCH_ONLY=drain (etc.) for one section.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALM, type ALMEvent, type ALMOptions } from '../src';
import { serializeEvent } from '../src/events/translate';

type Counts = { received: number; requests: number; cpuUs: number };

async function startReceiver(): Promise<{ child: ChildProcess; url: string; ask: (m?: object) => Promise<Counts> }> {
  const child = fork(join(__dirname, 'receiver.js'), [], { stdio: 'inherit' });
  const port = await new Promise<number>((resolve) => child.once('message', (m: { port: number }) => resolve(m.port)));
  const ask = (message: object = { count: true }) =>
    new Promise<Counts>((resolve) => {
      child.once('message', (m: Counts) => resolve(m));
      child.send(message);
    });
  return { child, url: `http://127.0.0.1:${port}`, ask };
}

const only = process.env.BENCH_ONLY;
const want = (name: string) => only === undefined || only.split(',').includes(name);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

function agent(url: string, errors: Error[], events: ALMOptions['events'] = {}): ALM {
  return new ALM({
    agentId: 'bench-agent',
    events: { sink: 'http', endpoint: url, flushOnExit: false, ...events },
    onError: (e) => errors.push(e),
  });
}

async function jsonCost(): Promise<void> {
  const events: ALMEvent[] = [];
  const alm = new ALM({
    agentId: 'bench-agent',
    events: { sink: (b) => void events.push(...b), flushOnExit: false, maxQueueSize: 100_000 },
  });
  const t = alm.tool('search', (args: { query: string; limit: number }) => ({ hits: [args.query], total: 1 }));
  alm.run(() => {
    for (let i = 0; i < 10_000; i++) t({ query: `what is opentelemetry ${i}`, limit: 10 });
  });
  await alm.shutdown();
  let bytes = 0;
  const t0 = process.hrtime.bigint();
  for (let round = 0; round < 5; round++) for (const e of events) bytes += JSON.stringify(e).length;
  const ns = Number(process.hrtime.bigint() - t0) / (5 * events.length);
  const t1 = process.hrtime.bigint();
  let fastBytes = 0;
  for (let round = 0; round < 5; round++) for (const e of events) fastBytes += serializeEvent(e).length;
  const fastNs = Number(process.hrtime.bigint() - t1) / (5 * events.length);
  if (fastBytes !== bytes) throw new Error('serializeEvent and JSON.stringify differ in length');
  console.log(`json      serializeEvent per event: ${(fastNs / 1000).toFixed(2)} µs (what delivery and the spool use)`);
  console.log(
    `json      JSON.stringify per event: ${(ns / 1000).toFixed(2)} µs (${fmt(bytes / (5 * events.length))} bytes avg; done once per event, in delivery, off the hot path)`,
  );
}

async function drain(url: string, ask: (m?: object) => Promise<Counts>): Promise<void> {
  const errors: Error[] = [];
  const alm = agent(url, errors);
  const t = alm.tool('search', (args: { query: string }) => args.query.length);
  const fill = () =>
    alm.run(() => {
      for (let i = 0; i < 3300; i++) t({ query: `q${i}` }); // 9,902 events: just under maxQueueSize
    });
  for (let r = 0; r < 5; r++) {
    fill();
    await alm.flush(); // warm up: connections, JIT, the heap's size
  }
  const receiverCpu0 = (await ask({ reset: true })).cpuUs;
  const cpu0 = process.cpuUsage();
  let flushNs = 0;
  let totalNs = 0;
  let flushCpuUs = 0;
  const rounds = 40;
  const rates: number[] = [];
  const before = alm.stats().delivered;
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    fill();
    const t1 = process.hrtime.bigint();
    const c1 = process.cpuUsage();
    const d1 = alm.stats().delivered;
    await alm.flush();
    const c2 = process.cpuUsage(c1);
    const t2 = process.hrtime.bigint();
    rates.push((alm.stats().delivered - d1) / (Number(t2 - t1) / 1e9));
    flushNs += Number(t2 - t1);
    totalNs += Number(t2 - t0);
    flushCpuUs += c2.user + c2.system;
  }
  rates.sort((a, b) => a - b);
  const delivered = alm.stats().delivered - before;
  const cpu = process.cpuUsage(cpu0);
  const { received, requests, cpuUs } = await ask();
  await alm.shutdown();
  console.log(
    `drain     ${fmt(delivered / (flushNs / 1e9))} events/s (flush of a full queue, ${rounds} flushes; median flush ${fmt(rates[rounds >> 1]!)}/s; ` +
      `${fmt(delivered / (totalNs / 1e9))}/s counting the agent's calls), ` +
      `${fmt(received)} received in ${fmt(requests)} requests (${fmt(received / requests)}/request), dropped ${alm.stats().dropped}`,
  );
  console.log(
    `          CPU per event: agent process ${((cpu.user + cpu.system) / delivered).toFixed(2)} µs (its tool calls included; ` +
      `${(flushCpuUs / delivered).toFixed(2)} µs in the flush), ` +
      `receiver ${((cpuUs - receiverCpu0) / received).toFixed(2)} µs`,
  );
}

async function loop(
  url: string,
  ask: (m?: object) => Promise<Counts>,
  name: string,
  rate: number | undefined,
  seconds: number,
): Promise<void> {
  await ask({ reset: true });
  const errors: Error[] = [];
  const alm = agent(url, errors);
  const t = alm.tool('search', (args: { query: string }) => args.query.length);
  let calls = 0;
  const start = performance.now();
  await alm.run(async () => {
    for (;;) {
      const elapsed = performance.now() - start;
      if (elapsed >= seconds * 1000) break;
      if (rate === undefined) {
        for (let i = 0; i < 100; i++) t({ query: `q${calls++}` });
        await new Promise((resolve) => setImmediate(resolve));
      } else {
        const target = Math.floor((elapsed * rate) / 1000);
        while (calls < target) t({ query: `q${calls++}` });
        await sleep(1);
      }
    }
  });
  const elapsed = (performance.now() - start) / 1000;
  await alm.shutdown();
  const s = alm.stats();
  const { received } = await ask();
  const overflowReports = errors.filter((e) => e.message.startsWith('event queue full')).length;
  console.log(
    `${name.padEnd(9)} ${fmt(calls / elapsed)} tool calls/s (${fmt(s.emitted / elapsed)} events/s) for ${elapsed.toFixed(1)} s: ` +
      `emitted ${fmt(s.emitted)}, delivered ${fmt(s.delivered)}, dropped ${fmt(s.dropped)} (${((100 * s.dropped) / s.emitted).toFixed(1)}%), ` +
      `received ${fmt(received)}; onError told of overflow ${overflowReports} times`,
  );
}

/** Per event: the agent's thread time of N calls plus the turn that builds (and spools) their events. */
async function spoolCost(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'alm-bench-spool-'));
  const make = (spoolDir?: string) =>
    new ALM({ agentId: 'bench-agent', events: { sink: () => {}, flushOnExit: false, spoolDir, batchSize: 10_000 } });
  const plain = make();
  const spooled = make(dir);
  const tools = [plain, spooled].map((alm) => alm.tool('search', (args: { query: string }) => args.query.length));
  const calls = 1000;
  const samples: number[][] = [[], [], [], []];
  for (let s = 0; s < 130; s++) {
    for (const v of [0, 1]) {
      const alm = v === 0 ? plain : spooled;
      const t = tools[v]!;
      const t0 = process.hrtime.bigint();
      alm.run(() => {
        for (let i = 0; i < calls; i++) t({ query: `q${i}` });
      });
      const t1 = process.hrtime.bigint();
      await new Promise((resolve) => setImmediate(resolve)); // translation (and spooling) run here
      alm.stats(); // anything left is translated now
      const t2 = process.hrtime.bigint();
      await alm.flush();
      if (s < 30) continue;
      samples[v]!.push(Number(t1 - t0) / calls);
      samples[v + 2]!.push(Number(t2 - t0) / (calls * 3 + 2));
    }
  }
  await Promise.all([plain.shutdown(), spooled.shutdown()]);
  rmSync(dir, { recursive: true, force: true });
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]! / 1000;
  const [hot, hotSpool, all, allSpool] = samples.map(median) as [number, number, number, number];
  console.log(
    `spool     on the agent's thread: alm.tool call ${hot.toFixed(2)} µs without spool, ${hotSpool.toFixed(2)} µs with; ` +
      `per event incl. building and spooling ${all.toFixed(2)} µs vs ${allSpool.toFixed(2)} µs (+${(allSpool - all).toFixed(2)} µs: ` +
      `JSON once, reused by the http/file/stdout sinks; the write and fdatasync run on libuv's threads)`,
  );
}

async function kills(url: string, child: ChildProcess): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'alm-bench-kill-'));
  const agentScript = join(__dirname, '..', '..', 'test', 'fixtures', 'scripts', 'spool-agent.ts');
  const run = (label: string, calls: number) => {
    const p = spawn(process.execPath, ['--import', 'tsx', agentScript, dir, url, label, String(calls)], {
      cwd: join(__dirname, '..', '..'),
    });
    const progress: [number, number][] = [];
    let buffered = '';
    p.stdout.on('data', (chunk: Buffer) => {
      const lines = (buffered + chunk.toString()).split('\n');
      buffered = lines.pop()!;
      for (const line of lines)
        if (!line.startsWith('done')) progress.push(line.split(' ').map(Number) as [number, number]);
    });
    const exited = new Promise<void>((resolve) => p.on('exit', () => resolve()));
    return { p, progress, exited };
  };
  const killed: { label: string; at: number; progress: [number, number][] }[] = [];
  for (let k = 0; k < 5; k++) {
    const agentRun = run(`k${k}`, 1e9);
    while (agentRun.progress.length === 0) await sleep(10);
    await sleep(200 + Math.random() * 800);
    const at = Date.now();
    agentRun.p.kill('SIGKILL');
    await agentRun.exited;
    killed.push({ label: `k${k}`, at, progress: agentRun.progress });
  }
  const last = run('final', 5);
  await last.exited;
  const received = await new Promise<Set<string>>((resolve) => {
    child.once('message', (m: { calls: string[] }) => resolve(new Set(m.calls)));
    child.send({ calls: true });
  });
  rmSync(dir, { recursive: true, force: true });
  const parts = killed.map(({ label, at, progress }) => {
    let lost = 0;
    let oldest = -1;
    let prev = 0;
    for (const [done, t] of progress) {
      for (let i = prev; i < done; i++) {
        if (received.has(`${label}/${i}`)) continue;
        lost++;
        oldest = Math.max(oldest, at - t);
      }
      prev = done;
    }
    return `${lost} of ${fmt(prev)} calls${lost > 0 ? ` (oldest emitted ${oldest} ms before the kill)` : ''}`;
  });
  console.log(`kill -9   5 kills, each restarted on the same spool: lost ${parts.join('; ')}`);
}

async function main(): Promise<void> {
  console.log(`node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; default settings, http sink`);
  const receiver = await startReceiver();
  try {
    if (want('json')) await jsonCost();
    if (want('drain')) await drain(receiver.url, receiver.ask);
    if (want('paced')) await loop(receiver.url, receiver.ask, 'paced', 10_000, 5);
    if (want('tight')) await loop(receiver.url, receiver.ask, 'tight', undefined, 5);
    if (want('spool')) await spoolCost();
    if (want('kill')) await kills(receiver.url, receiver.child);
  } finally {
    receiver.child.disconnect();
  }
}

void main();
