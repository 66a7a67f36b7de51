/**
 * alm.tool side by side with peers' tool wrappers, in one process, around the same async tool:
 *   bare       - tracer.startActiveSpan around the tool (OTel only)
 *   openllmetry - @traceloop/node-server-sdk withTool (initialised without its own NodeSDK, so its
 *                spans go to the registered provider; content tracing on, as by default)
 *   openinference - @arizeai/openinference-core traceTool
 *   langfuse   - @langfuse/tracing startActiveObservation (asType tool, input and output) with
 *                @langfuse/otel's LangfuseSpanProcessor (its exporter a no-op: offline)
 *   alm        - alm.tool(): policy on, inside a run, the span, and the three events built and handed
 *                to a no-op function sink (default event settings otherwise)
 * Every provider is a real SDK TracerProvider (AlwaysOn) with a BatchSpanProcessor to a no-op exporter
 * (Langfuse: its own processor, which batches); the AsyncLocalStorage context manager is registered.
 * alm has its provider (with alm.spanProcessors) through its `tracerProvider` option, so peers' tool
 * spans are not also decided by alm.
 *
 * Two loops: `yielding` (the event loop turns every 200 calls, so batch processors and alm's delivery
 * run within the timed loop) and `never-yielding` (every await already resolved: nothing else runs
 * until the loop ends). Each sample times one loop and then the drain of what it queued (spans,
 * events), so deferred work is counted. Variants rotate order round by round and the ratio is the
 * median of ratios paired within a round, so load elsewhere on the machine falls on all alike.
 *
 * Then the tax alm.spanProcessors put on an unrelated span (an HTTP client span of
 * @opentelemetry/instrumentation-undici's shape), outside and inside a run.
 *
 *   npm run bench            (builds alm-otel first; `npm run bench:peers` runs only this, on the last build;
 *                            both install bench/peers/ with npm ci if needed)
 *   BENCH_ROUNDS=30 BENCH_ONLY=yielding,never,tax BENCH_VARIANTS=bare,alm node bench/peers/peers.bench.cjs
 */
'use strict';
const { execSync } = require('node:child_process');
const { cpus, loadavg } = require('node:os');
const { join } = require('node:path');
const api = require('@opentelemetry/api');
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
const { BatchSpanProcessor, TracerProvider } = require('@opentelemetry/sdk-trace');
const traceloop = require('@traceloop/node-server-sdk');
const { traceTool } = require('@arizeai/openinference-core');
const { startActiveObservation, setLangfuseTracerProvider } = require('@langfuse/tracing');
const { LangfuseSpanProcessor } = require('@langfuse/otel');
// ALM_DIST: another build's dist/index.cjs, to compare builds.
const { ALM } = require(process.env.ALM_DIST ?? join(__dirname, '..', '..', 'dist', 'index.cjs'));

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 25);
const WARMUP_ROUNDS = 3;
const YIELDING_CALLS = 2000;
const NEVER_YIELDING_CALLS = 20_000;
const YIELD_EVERY = 200;

const noopExporter = () => ({ export: (_spans, done) => done({ code: 0 }), shutdown: async () => {} });
const batch = () => new BatchSpanProcessor({ exporter: noopExporter() });

api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

// The peers' provider (the registered one: OpenLLMetry always uses the global tracer).
const peersProvider = new TracerProvider({ spanProcessors: [batch()] });
api.trace.setGlobalTracerProvider(peersProvider);

// alm takes its tracer from its own provider (the `tracerProvider` option), which holds its span
// processors; the provider is built after the instance, so the option defers to it.
let almProvider;
const alm = new ALM({
  agentId: 'bench-agent',
  tracerProvider: {
    getTracer(name, version, options) {
      // Fixed arity: a rest/spread forwarder would allocate on every span and bill alm for the harness.
      let tracer;
      const get = () => (tracer ??= almProvider.getTracer(name, version, options));
      return {
        startSpan: (spanName, spanOptions, parent) => get().startSpan(spanName, spanOptions, parent),
        startActiveSpan: (...a) => get().startActiveSpan(...a),
      };
    },
  },
  policy: { allowedTools: ['search', 'read_*'], deniedTools: ['delete_*'], maxToolCallsPerRun: 1e12 },
  events: { sink: () => {}, flushOnExit: false },
  onError: () => {}, // the never-yielding loop drops events by design (stats() counts them)
});
almProvider = new TracerProvider({ spanProcessors: [...alm.spanProcessors, batch()] });

const langfuseProcessor = new LangfuseSpanProcessor({
  publicKey: 'pk-lf-bench',
  secretKey: 'sk-lf-bench',
  baseUrl: 'http://127.0.0.1:9',
  exporter: noopExporter(),
  mediaUploadEnabled: false,
});
const langfuseProvider = new TracerProvider({ spanProcessors: [langfuseProcessor] });
setLangfuseTracerProvider(langfuseProvider);

traceloop.initialize({
  appName: 'alm-otel-bench',
  baseUrl: 'http://127.0.0.1:9',
  tracingEnabled: false, // no NodeSDK of its own: its spans go to the registered provider
  traceloopSyncEnabled: false,
  silenceInitializationMessage: true,
});

// The tool: async, as agent tools are.
const search = async ({ query }) => query.length;
const input = { query: 'opentelemetry' };

const bareTracer = peersProvider.getTracer('bench');
const variants = {
  bare: (args) =>
    bareTracer.startActiveSpan('execute_tool search', async (span) => {
      try {
        return await search(args);
      } finally {
        span.end();
      }
    }),
  openllmetry: (args) => traceloop.withTool({ name: 'search' }, search, args),
  openinference: traceTool(search, { name: 'search', tracer: peersProvider.getTracer('openinference') }),
  langfuse: (args) =>
    startActiveObservation(
      'search',
      async (tool) => {
        tool.update({ input: args });
        const output = await search(args);
        tool.update({ output });
        return output;
      },
      { asType: 'tool' },
    ),
  alm: alm.tool('search', search),
};
const drains = {
  bare: () => peersProvider.forceFlush(),
  openllmetry: () => peersProvider.forceFlush(),
  openinference: () => peersProvider.forceFlush(),
  langfuse: () => langfuseProvider.forceFlush(),
  alm: async () => {
    await alm.flush();
    await almProvider.forceFlush();
  },
};
const labels = {
  bare: 'bare tracer.startActiveSpan',
  openllmetry: 'OpenLLMetry withTool 0.27',
  openinference: 'OpenInference traceTool 2.7',
  langfuse: 'Langfuse startActiveObservation 5.11',
  alm: 'alm.tool (policy, span, 3 events)',
};

const turn = () => new Promise((resolve) => setImmediate(resolve));
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function loop(call, calls, yieldEvery) {
  for (let i = 1; i <= calls; i++) {
    await call(input);
    if (yieldEvery !== 0 && i % yieldEvery === 0) await turn();
  }
}

/** One timed sample: the loop and the drain of what it queued; ns per call. */
async function sample(name, calls, yieldEvery) {
  const call = variants[name];
  const body = async () => {
    const t0 = process.hrtime.bigint();
    await loop(call, calls, yieldEvery);
    const t1 = process.hrtime.bigint();
    await drains[name]();
    const t2 = process.hrtime.bigint();
    return { loop: Number(t1 - t0) / calls, total: Number(t2 - t0) / calls };
  };
  return name === 'alm' ? alm.run({ purpose: 'benchmark' }, body) : body();
}

async function compare(title, names, calls, yieldEvery) {
  const times = Object.fromEntries(names.map((n) => [n, []]));
  for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
    const order = names.map((_, i) => names[(i + round) % names.length]);
    for (const name of order) {
      const t = await sample(name, calls, yieldEvery);
      if (round >= WARMUP_ROUNDS) times[name].push(t);
      await turn();
    }
  }
  const bare = times.bare;
  console.log(`\n${title} (${calls} calls per sample, median of ${ROUNDS} rounds)`);
  console.log('| wrapper | per call (loop) | per call (loop + drain) | vs bare span (loop + drain, paired) |');
  console.log('|---|---|---|---|');
  for (const name of names) {
    const t = times[name];
    const ratio = median(t.map((x, i) => x.total / bare[i].total));
    console.log(
      `| ${labels[name]} | ${us(median(t.map((x) => x.loop)))} µs | ${us(median(t.map((x) => x.total)))} µs | ${ratio.toFixed(2)}× |`,
    );
  }
}

const us = (ns) => (ns / 1000).toFixed(2);

/** An unrelated span, as an HTTP client instrumentation starts it: kind CLIENT, method and URL at start. */
function httpSpan(tracer) {
  const span = tracer.startSpan('GET', {
    kind: api.SpanKind.CLIENT,
    attributes: {
      'http.request.method': 'GET',
      'url.full': 'http://127.0.0.1:8080/items',
      'server.address': '127.0.0.1',
    },
  });
  span.setAttribute('http.response.status_code', 200);
  span.end();
}

async function foreignTax() {
  const SPANS = 5000;
  const without = peersProvider.getTracer('@opentelemetry/instrumentation-undici');
  const withAlm = almProvider.getTracer('@opentelemetry/instrumentation-undici');
  const cases = {
    without: () => timeSpans(without, SPANS, peersProvider),
    outside: () => timeSpans(withAlm, SPANS, almProvider),
    // In a run, the span is a child of the run's span (a recording parent) in both cases.
    withoutInside: () => alm.run(() => timeSpans(without, SPANS, peersProvider)),
    inside: () => alm.run(() => timeSpans(withAlm, SPANS, almProvider)),
  };
  const times = { without: [], outside: [], withoutInside: [], inside: [] };
  const names = Object.keys(cases);
  for (let round = 0; round < WARMUP_ROUNDS + 4 * ROUNDS; round++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + round) % names.length];
      const t = await cases[name]();
      if (round >= WARMUP_ROUNDS) times[name].push(t);
    }
  }
  const tax = (name, base) => median(times[name].map((t, i) => t - times[base][i]));
  console.log(
    `\nUnrelated span (HTTP client span: startSpan, one setAttribute, end; ${SPANS} per sample, median of ${4 * ROUNDS} rounds)`,
  );
  console.log('| case | per span | tax of alm.spanProcessors (paired) |');
  console.log('|---|---|---|');
  console.log(`| without alm.spanProcessors, outside a run | ${us(median(times.without))} µs | |`);
  console.log(
    `| with, outside a run | ${us(median(times.outside))} µs | ${Math.round(tax('outside', 'without'))} ns |`,
  );
  console.log(`| without alm.spanProcessors, inside a run | ${us(median(times.withoutInside))} µs | |`);
  console.log(
    `| with, inside a run | ${us(median(times.inside))} µs | ${Math.round(tax('inside', 'withoutInside'))} ns |`,
  );
  const hooks = hookCost();
  console.log(
    `alm.spanProcessors' hooks alone (onStart, onEnding, onEnd called on the same real spans): ${Math.round(hooks.outside)} ns outside a run, ${Math.round(hooks.inside)} ns inside`,
  );
}

/**
 * The processor's own share, without the SDK around it: alm.spanProcessors' onStart, onEnding and
 * onEnd called directly on real, not yet ended spans (from the provider without alm's processors).
 */
function hookCost() {
  const SPANS = 5000;
  const tracer = peersProvider.getTracer('@opentelemetry/instrumentation-undici');
  const hooks = alm.spanProcessors;
  const time = () => {
    const ctx = api.context.active();
    const spans = [];
    for (let i = 0; i < SPANS; i++) {
      spans.push(
        tracer.startSpan('GET', {
          kind: api.SpanKind.CLIENT,
          attributes: { 'http.request.method': 'GET', 'url.full': 'http://127.0.0.1:8080/items' },
        }),
      );
    }
    const t0 = process.hrtime.bigint();
    for (const span of spans) {
      for (const p of hooks) p.onStart(span, ctx);
      for (const p of hooks) p.onEnding?.(span);
      for (const p of hooks) p.onEnd(span);
    }
    const t1 = process.hrtime.bigint();
    for (const span of spans) span.end();
    return Number(t1 - t0) / SPANS;
  };
  const times = { outside: [], inside: [] };
  for (let r = 0; r < 60; r++) {
    times.outside.push(time());
    times.inside.push(alm.run(time));
  }
  return { outside: median(times.outside.slice(5)), inside: median(times.inside.slice(5)) };
}

async function timeSpans(tracer, n, provider) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) httpSpan(tracer);
  const t1 = process.hrtime.bigint();
  await provider.forceFlush();
  return Number(t1 - t0) / n;
}

async function main() {
  let cpu = cpus()[0]?.model ?? 'unknown CPU';
  const uptime = () => {
    try {
      return execSync('uptime', { encoding: 'utf8' }).trim();
    } catch {
      return `load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(', ')}`;
    }
  };
  console.log(`node ${process.version}, ${cpus().length} × ${cpu}, ${new Date().toISOString()}`);
  console.log(`before: ${uptime()}`);
  const only = process.env.BENCH_ONLY?.split(',');
  const want = (section) => only === undefined || only.includes(section);
  const names = (process.env.BENCH_VARIANTS?.split(',') ?? Object.keys(variants)).filter((n) => n in variants);
  if (!names.includes('bare')) names.unshift('bare');
  if (want('yielding')) {
    await compare(
      `Yielding loop: await tool(), the event loop turns every ${YIELD_EVERY} calls`,
      names,
      YIELDING_CALLS,
      YIELD_EVERY,
    );
    console.log(`load: ${uptime()}`);
  }
  if (want('never')) {
    await compare('Never-yielding loop: await tool(), every await already resolved', names, NEVER_YIELDING_CALLS, 0);
    const stats = alm.stats();
    console.log(
      `alm events: ${stats.emitted} emitted, ${stats.delivered} delivered, ${stats.dropped} dropped (bounded queue)`,
    );
    console.log(`load: ${uptime()}`);
  }
  if (want('tax')) await foreignTax();
  console.log(`after: ${uptime()}`);
  await alm.shutdown();
  await traceloop.forceFlush?.().catch?.(() => {});
  await Promise.all([peersProvider.shutdown(), almProvider.shutdown(), langfuseProvider.shutdown()]);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
