/**
 * The drain of two builds of alm-otel side by side in one process, to one receiver in its own process
 * (bench/receiver.ts): rounds alternate between the builds (a queue filled to just under maxQueueSize,
 * then `alm.flush()`), so load from elsewhere on the machine falls on both alike. Prints, per build, the
 * median events/s and agent CPU per event of a flush, and the median of the paired ratios. For checking
 * a delivery change on a shared machine, where two separate `npm run bench:delivery` runs vary more
 * than the change:
 *
 *   git archive <base> | tar -x -C /tmp/base && (cd /tmp/base && npm ci && npx tsc -p tsconfig.bench.json)
 *   npx tsc -p tsconfig.bench.json
 *   node bench/compare-drain.cjs /tmp/base/.bench-build/src/index.js .bench-build/src/index.js
 *
 * ROUNDS (default 40) sets the rounds per build; SINK=file|stdout|function drains to that sink instead.
 */
const { fork } = require('node:child_process');
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join, resolve } = require('node:path');
const { Writable } = require('node:stream');

const ROUNDS = Number(process.env.ROUNDS ?? 40);
const WARMUP = 3;
const SINK = process.env.SINK ?? 'http';
const builds = { base: require(resolve(process.argv[2])), new: require(resolve(process.argv[3])) };

async function main() {
  const receiver = fork(join(__dirname, '..', '.bench-build', 'bench', 'receiver.js'), [], { stdio: 'inherit' });
  const port = await new Promise((done) => receiver.once('message', (m) => done(m.port)));
  const dir = mkdtempSync(join(tmpdir(), 'alm-drain-'));
  const sinkOf = (name) => {
    if (SINK === 'http') return { sink: 'http', endpoint: `http://127.0.0.1:${port}` };
    if (SINK === 'file') return { sink: 'file', path: join(dir, `${name}.jsonl`) };
    if (SINK === 'function') return { sink: () => {} };
    throw new Error(`SINK=${SINK}: http, file or function`);
  };
  const agents = {};
  for (const [name, m] of Object.entries(builds)) {
    const alm = new m.ALM({ agentId: 'bench-agent', events: { ...sinkOf(name), flushOnExit: false } });
    const t = alm.tool('search', (args) => args.query.length);
    const fill = () =>
      alm.run(() => {
        for (let i = 0; i < 3300; i++) t({ query: `q${i}` }); // 9,902 events: just under maxQueueSize
      });
    agents[name] = { alm, fill, rate: [], cpu: [] };
  }
  const ratios = { rate: [], cpu: [] };
  for (let r = 0; r < WARMUP + ROUNDS; r++) {
    const order = r % 2 === 0 ? ['base', 'new'] : ['new', 'base'];
    const got = {};
    for (const name of order) {
      const a = agents[name];
      const before = a.alm.stats().delivered; // before the fill: stats() turns waiting records into events
      a.fill();
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      await a.alm.flush();
      const ns = Number(process.hrtime.bigint() - t0);
      const c = process.cpuUsage(c0);
      const n = a.alm.stats().delivered - before;
      got[name] = { rate: n / (ns / 1e9), cpu: (c.user + c.system) / n };
    }
    if (r < WARMUP) continue;
    for (const name of order) {
      agents[name].rate.push(got[name].rate);
      agents[name].cpu.push(got[name].cpu);
    }
    ratios.rate.push(got.new.rate / got.base.rate);
    ratios.cpu.push(got.new.cpu / got.base.cpu);
  }
  const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
  for (const [name, a] of Object.entries(agents)) {
    console.log(
      `${name.padEnd(5)} ${Math.round(median(a.rate)).toLocaleString('en-US')} events/s, ` +
        `agent CPU ${median(a.cpu).toFixed(2)} µs per event (medians of ${ROUNDS} flushes, sink ${SINK})`,
    );
    await a.alm.shutdown();
  }
  console.log(
    `new/base: events/s ×${median(ratios.rate).toFixed(2)}, CPU per event ×${median(ratios.cpu).toFixed(2)} (medians of paired ratios)`,
  );
  receiver.disconnect();
  rmSync(dir, { recursive: true, force: true });
}

void main();
