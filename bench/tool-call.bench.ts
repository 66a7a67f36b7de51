/**
 * `npm run bench`: the cost of one instrumented tool call, in one process, against the same real
 * OTel SDK pipeline (AlwaysOn sampler, batch processor to a no-op exporter, AsyncLocalStorage
 * context manager) for every variant:
 *   raw   - the bare function call
 *   otel  - a bare tracer.startActiveSpan wrapper around it
 *   alm   - alm.tool(): policy on, inside a run, events to a no-op function sink
 * It runs compiled (tsc) output, as users run it. Each sample times a batch of calls; queued spans and
 * events are delivered between samples, outside the timing, and the cost of building those events is
 * reported separately (it runs off the hot path).
 */
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BatchSpanProcessor, TracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace';
import { ALM } from '../src';

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

type Variant = 'raw' | 'otel' | 'alm';

/**
 * Samples interleave the variants (raw, otel, alm, raw, ...) so that load from elsewhere on the
 * machine falls on all of them alike; the ratio is what this benchmark is for.
 */
async function measure(
  calls: Record<Variant, () => unknown>,
): Promise<Record<Variant, number> & { almFlush: number; ratio: number }> {
  const samples: Record<Variant, number[]> = { raw: [], otel: [], alm: [] };
  const flushes: number[] = [];
  for (let s = 0; s < WARMUP + SAMPLES; s++) {
    for (const variant of ['raw', 'otel', 'alm'] as const) {
      const call = calls[variant];
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < BATCH; i++) call();
      const t1 = process.hrtime.bigint();
      // Deliver what the batch queued (spans and events) outside the timed loop.
      await alm.flush();
      const t2 = process.hrtime.bigint();
      await batchProcessor.forceFlush();
      if (s < WARMUP) continue;
      samples[variant].push(Number(t1 - t0) / BATCH);
      if (variant === 'alm') flushes.push(Number(t2 - t1) / BATCH);
    }
  }
  return {
    raw: median(samples.raw),
    otel: median(samples.otel),
    alm: median(samples.alm),
    almFlush: median(flushes),
    // Paired: each sample's alm batch against the otel batch measured right before it.
    ratio: median(samples.alm.map((alm, i) => alm / samples.otel[i]!)),
  };
}

async function main(): Promise<void> {
  const r = await alm.run({ purpose: 'benchmark' }, () =>
    measure({ raw: () => search(input), otel: () => bare(input), alm: () => instrumented(input) }),
  );
  const us = (ns: number) => (ns / 1000).toFixed(3).padStart(8);
  console.log(`node ${process.version}, ${SAMPLES} interleaved samples of ${BATCH} calls, median per call`);
  console.log(`  raw call                      ${us(r.raw)} µs`);
  console.log(`  bare tracer.startActiveSpan   ${us(r.otel)} µs`);
  console.log(`  alm.tool (hot path)           ${us(r.alm)} µs`);
  console.log(`  alm event building, off path  ${us(r.almFlush)} µs per call (3 events)`);
  console.log(`ratio alm.tool / bare span: ${r.ratio.toFixed(2)}x (median of paired samples; bar: <= 2x, aim 1.3x)`);
  console.log(`ratio incl. event building:  ${((r.alm + r.almFlush) / r.otel).toFixed(2)}x`);
  await alm.shutdown();
  await provider.shutdown();
}

void main();
