/**
 * `npm run bench`: the cost of one instrumented tool call, in one process, against the same real
 * OTel SDK pipeline (AlwaysOn sampler, batch processor to a no-op exporter, AsyncLocalStorage
 * context manager) for every variant:
 *   raw   - the bare function call
 *   otel  - a bare tracer.startActiveSpan wrapper around it
 *   alm   - alm.tool(): policy on, inside a run, events to a no-op function sink
 * Each sample times a batch of calls; queued spans and events are flushed between samples, outside
 * the timing, and the cost of building those events is reported separately (it runs off the hot path).
 */
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BatchSpanProcessor, TracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace';
import { ALM } from '../dist';

const BATCH = 1000;
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 200);
const WARMUP = 30;

const noopExporter: SpanExporter = {
  export: (_spans, done) => done({ code: 0 }),
  shutdown: async () => {},
};

const alm = new ALM({
  agentId: 'bench-agent',
  policy: { allowedTools: ['search', 'read_*'], deniedTools: ['delete_*'], maxToolCallsPerRun: 1e12 },
  events: { sink: () => {}, batchSize: 10_000, flushIntervalMs: 60_000 },
});
const batchProcessor = new BatchSpanProcessor({
  exporter: noopExporter,
  maxQueueSize: 4 * BATCH,
  maxExportBatchSize: BATCH,
});
const provider = new TracerProvider({ spanProcessors: [...alm.spanProcessors, batchProcessor] });
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(provider);
const tracer = trace.getTracer('bench');

const search = ({ query }: { query: string }) => query.length;
const input = { query: 'opentelemetry' };
const instrumented = alm.tool('search', search);
const bare = (args: { query: string }) =>
  tracer.startActiveSpan('execute_tool search', (span) => {
    try {
      return search(args);
    } finally {
      span.end();
    }
  });

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function measure(call: () => unknown): Promise<{ hotNs: number; flushNs: number }> {
  const hot: number[] = [];
  const flush: number[] = [];
  for (let s = 0; s < WARMUP + SAMPLES; s++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < BATCH; i++) call();
    const t1 = process.hrtime.bigint();
    await alm.flush();
    const t2 = process.hrtime.bigint();
    await batchProcessor.forceFlush();
    if (s >= WARMUP) {
      hot.push(Number(t1 - t0) / BATCH);
      flush.push(Number(t2 - t1) / BATCH);
    }
  }
  return { hotNs: median(hot), flushNs: median(flush) };
}

async function main(): Promise<void> {
  const results = await alm.run({ purpose: 'benchmark' }, async () => ({
    raw: await measure(() => search(input)),
    otel: await measure(() => bare(input)),
    alm: await measure(() => instrumented(input)),
  }));
  const us = (ns: number) => (ns / 1000).toFixed(3).padStart(8);
  console.log(`node ${process.version}, ${SAMPLES} samples of ${BATCH} calls, median per call`);
  console.log(`  raw call                      ${us(results.raw.hotNs)} µs`);
  console.log(`  bare tracer.startActiveSpan   ${us(results.otel.hotNs)} µs`);
  console.log(`  alm.tool (hot path)           ${us(results.alm.hotNs)} µs`);
  console.log(`  alm event building, off path  ${us(results.alm.flushNs)} µs per call (3 events)`);
  console.log(
    `ratio alm.tool / bare span: ${(results.alm.hotNs / results.otel.hotNs).toFixed(2)}x (bar: <= 2x, aim 1.3x)`,
  );
  console.log(
    `ratio incl. event building:  ${((results.alm.hotNs + results.alm.flushNs) / results.otel.hotNs).toFixed(2)}x`,
  );
  await alm.shutdown();
  await provider.shutdown();
}

void main();
