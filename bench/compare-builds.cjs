/**
 * Two builds of alm-otel side by side in one process, against one real SDK pipeline (AlwaysOn sampler,
 * batch processor to a no-op exporter, AsyncLocalStorage context manager): the median per-call cost of
 * alm.tool for each, and the median of paired ratios (samples alternate between the builds, so load from
 * elsewhere on the machine falls on both alike). For checking a change for a hot-path loss on a shared
 * machine, where two separate `npm run bench` runs vary more than the change:
 *
 *   git archive <base> | tar -x -C /tmp/base && (cd /tmp/base && npm ci && npx tsc -p tsconfig.bench.json)
 *   npx tsc -p tsconfig.bench.json
 *   node bench/compare-builds.cjs /tmp/base/.bench-build/src/index.js .bench-build/src/index.js
 *
 * NO_PROVIDER=1 measures without any provider registered.
 */
const { resolve } = require('node:path');
const api = require('@opentelemetry/api');
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
const { BatchSpanProcessor, TracerProvider } = require('@opentelemetry/sdk-trace');

const BATCH = 1000;
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 150);
const WARMUP = 30;
const builds = { base: require(resolve(process.argv[2])), new: require(resolve(process.argv[3])) };

const almOf = (m) =>
  new m.ALM({
    agentId: 'bench-agent',
    policy: { allowedTools: ['search', 'read_*'], deniedTools: ['delete_*'], maxToolCallsPerRun: 1e12 },
    events: { sink: () => {}, batchSize: 10_000, flushIntervalMs: 60_000, flushOnExit: false },
  });
const alms = { base: almOf(builds.base), new: almOf(builds.new) };
const batch = new BatchSpanProcessor({
  exporter: { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {} },
  maxQueueSize: 4 * BATCH,
  maxExportBatchSize: BATCH,
});
const provider = new TracerProvider({
  spanProcessors: [...alms.base.spanProcessors, ...alms.new.spanProcessors, batch],
});
if (!process.env.NO_PROVIDER) {
  api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  api.trace.setGlobalTracerProvider(provider);
}
const search = ({ query }) => query.length;
const input = { query: 'opentelemetry' };
const tools = { base: alms.base.tool('search', search), new: alms.new.tool('search', search) };
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main() {
  const times = { base: [], new: [] };
  for (let s = 0; s < WARMUP + SAMPLES; s++) {
    for (const build of s % 2 ? ['base', 'new'] : ['new', 'base']) {
      await alms[build].run(async () => {
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < BATCH; i++) tools[build](input);
        const t1 = process.hrtime.bigint();
        await alms[build].flush();
        if (s >= WARMUP) times[build].push(Number(t1 - t0) / BATCH);
      });
      await batch.forceFlush();
    }
  }
  const us = (ns) => (ns / 1000).toFixed(3);
  const ratio = median(times.new.map((t, i) => t / times.base[i]));
  console.log(
    `alm.tool hot path${process.env.NO_PROVIDER ? ' (no provider)' : ''}: base ${us(median(times.base))} µs, new ${us(median(times.new))} µs; paired ratio new/base ${ratio.toFixed(3)}`,
  );
  await alms.base.shutdown();
  await alms.new.shutdown();
  await provider.shutdown();
}

void main();
