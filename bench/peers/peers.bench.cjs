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
 * @opentelemetry/instrumentation-undici's shape), outside and inside a run, in CPU time, beside the tax
 * of a span processor that does nothing (BENCH_TAX_ROUNDS rounds, default 16 × BENCH_ROUNDS).
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

/** A span processor that does nothing: what any processor costs the SDK, the floor of alm's tax. */
class NoopSpanProcessor {
  onStart() {}
  onEnd() {}
  forceFlush() {
    return Promise.resolve();
  }
  shutdown() {
    return Promise.resolve();
  }
}

/** Spans per sample: under the batch processor's queue (2048), so every span is exported, none dropped. */
const TAX_SPANS = 1000;
const TAX_ROUNDS = Number(process.env.BENCH_TAX_ROUNDS ?? 16 * ROUNDS);

/**
 * The tax alm.spanProcessors put on a span that is no agent call, paired with the same span on a
 * provider without them (and beside the tax of a processor that does nothing). A sample is TAX_SPANS
 * spans started, written and ended back to back, timed in CPU time (process.cpuUsage: the process's
 * work, GC threads included, and not the time other processes of a shared machine take) and in wall
 * time, then flushed untimed. Cases rotate round by round; a tax is the median of the differences
 * paired within a round, with a distribution-free 95% confidence interval of that median.
 */
async function foreignTax() {
  const undici = '@opentelemetry/instrumentation-undici';
  const floorProvider = new TracerProvider({ spanProcessors: [new NoopSpanProcessor(), batch()] });
  const without = peersProvider.getTracer(undici);
  const floor = floorProvider.getTracer(undici);
  const withAlm = almProvider.getTracer(undici);
  // An HTTP client instrumentation alm does not know by name: its spans are told apart by their start attributes.
  const unknownWithout = peersProvider.getTracer('my-http-client');
  const unknownWithAlm = almProvider.getTracer('my-http-client');
  // A framework's span alm tracks (it could be named a tool or model span later), open around the HTTP spans.
  const framework = almProvider.getTracer('my-agent-framework');
  const inFrameworkSpan = (fn) =>
    framework.startActiveSpan('invoke_agent', async (span) => {
      try {
        return await fn();
      } finally {
        span.end();
      }
    });
  const cases = {
    without: () => timeSpans(without, peersProvider),
    floor: () => timeSpans(floor, floorProvider),
    outside: () => timeSpans(withAlm, almProvider),
    unknownWithout: () => timeSpans(unknownWithout, peersProvider),
    unknown: () => timeSpans(unknownWithAlm, almProvider),
    // In a run, the span is a child of the run's span (a recording parent) in every case.
    withoutInside: () => alm.run(() => timeSpans(without, peersProvider)),
    floorInside: () => alm.run(() => timeSpans(floor, floorProvider)),
    inside: () => alm.run(() => timeSpans(withAlm, almProvider)),
    inFramework: () => alm.run(() => inFrameworkSpan(() => timeSpans(withAlm, almProvider))),
  };
  const names = Object.keys(cases);
  const times = Object.fromEntries(names.map((n) => [n, []]));
  for (let round = 0; round < WARMUP_ROUNDS + TAX_ROUNDS; round++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + round) % names.length];
      const t = await cases[name]();
      if (round >= WARMUP_ROUNDS) times[name].push(t);
    }
  }
  const cpu = (name) => us(median(times[name].map((t) => t.cpu)));
  const tax = (name, base) => {
    const paired = (k) => times[name].map((t, i) => t[k] - times[base][i][k]);
    const [mid, lo, hi] = medianWithInterval(paired('cpu'));
    return `${Math.round(mid)} ns (${Math.round(lo)} to ${Math.round(hi)}) | ${Math.round(median(paired('wall')))} ns`;
  };
  console.log(
    `\nUnrelated span (HTTP client span: startSpan, one setAttribute, end; ${TAX_SPANS} per sample, ${TAX_ROUNDS} rounds)`,
  );
  console.log('| case | per span (CPU) | tax, CPU (paired median, 95% CI) | tax, wall (paired median) |');
  console.log('|---|---|---|---|');
  console.log(`| without alm.spanProcessors, outside a run | ${cpu('without')} µs | | |`);
  console.log(`| a do-nothing span processor, outside a run | ${cpu('floor')} µs | ${tax('floor', 'without')} |`);
  console.log(`| with alm.spanProcessors, outside a run | ${cpu('outside')} µs | ${tax('outside', 'without')} |`);
  console.log(`| without alm.spanProcessors, inside a run | ${cpu('withoutInside')} µs | | |`);
  console.log(
    `| a do-nothing span processor, inside a run | ${cpu('floorInside')} µs | ${tax('floorInside', 'withoutInside')} |`,
  );
  console.log(`| with alm.spanProcessors, inside a run | ${cpu('inside')} µs | ${tax('inside', 'withoutInside')} |`);
  console.log(
    `| with, inside a run, within a framework span alm tracks | ${cpu('inFramework')} µs | ${tax('inFramework', 'withoutInside')} |`,
  );
  console.log(
    `| with, outside a run, from a tracer alm does not know (start attributes decide) | ${cpu('unknown')} µs | ${tax('unknown', 'unknownWithout')} |`,
  );
  const hooks = hookCost();
  console.log(
    `alm.spanProcessors' hooks alone (onStart, onEnding when offered, onEnd called on the same real spans): ${Math.round(hooks.outside)} ns outside a run, ${Math.round(hooks.inside)} ns inside`,
  );
  await floorProvider.shutdown();
}

/** The median of `values` and a distribution-free 95% confidence interval of it (order statistics). */
function medianWithInterval(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const half = 0.98 * Math.sqrt(n);
  const at = (rank) => sorted[Math.min(n - 1, Math.max(0, Math.round(rank)))];
  return [at((n - 1) / 2), at((n - 1) / 2 - half), at((n - 1) / 2 + half)];
}

/**
 * The processor's own share, without the SDK around it: alm.spanProcessors' onStart, onEnding (when
 * offered) and onEnd called directly on real, not yet ended spans (from the provider without alm's
 * processors). A few spans, each hooked many times, so they are in cache as a span just started is.
 */
function hookCost() {
  const SPANS = 64;
  const REPEAT = 80;
  const tracer = peersProvider.getTracer('@opentelemetry/instrumentation-undici');
  // A plain copy, read by index: a loop over the frozen array costs more than the hooks themselves.
  const hooks = [...alm.spanProcessors];
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
    for (let r = 0; r < REPEAT; r++) {
      for (let s = 0; s < SPANS; s++) {
        const span = spans[s];
        for (let i = 0; i < hooks.length; i++) hooks[i].onStart(span, ctx);
        for (let i = 0; i < hooks.length; i++) hooks[i].onEnding?.(span);
        for (let i = 0; i < hooks.length; i++) hooks[i].onEnd(span);
      }
    }
    const t1 = process.hrtime.bigint();
    for (const span of spans) span.end();
    return Number(t1 - t0) / (SPANS * REPEAT);
  };
  const times = { outside: [], inside: [] };
  for (let r = 0; r < 200; r++) {
    times.outside.push(time());
    times.inside.push(alm.run(time));
  }
  return { outside: median(times.outside.slice(20)), inside: median(times.inside.slice(20)) };
}

/** One tax sample: TAX_SPANS unrelated spans, CPU and wall time per span in ns; the flush is untimed. */
async function timeSpans(tracer, provider) {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < TAX_SPANS; i++) httpSpan(tracer);
  const t1 = process.hrtime.bigint();
  const c = process.cpuUsage(c0);
  await provider.forceFlush();
  return { cpu: ((c.user + c.system) * 1000) / TAX_SPANS, wall: Number(t1 - t0) / TAX_SPANS };
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
