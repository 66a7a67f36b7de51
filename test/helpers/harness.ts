/**
 * A real in-process OpenTelemetry SDK (TracerProvider, AsyncLocalStorage context manager, in-memory
 * span exporter) with an ALM instance wired in, as an application would. No mocked tracer.
 */
import { context, trace, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
  type ReadableSpan,
  type Sampler,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import { ALM, ALMEventSchema, type ALMEvent, type ALMOptions } from '../../src';

export interface Harness {
  alm: ALM;
  /** Every event the sink received, in order. */
  events: ALMEvent[];
  errors: Error[];
  exporter: InMemorySpanExporter;
  provider: TracerProvider;
  tracer: Tracer;
  /** Flush ALM and return all events so far, each validated against ALMEventSchema. */
  flushEvents(): Promise<ALMEvent[]>;
  spans(): ReadableSpan[];
  span(name: string): ReadableSpan;
  close(): Promise<void>;
}

export interface HarnessOptions {
  alm?: Partial<ALMOptions>;
  sampler?: Sampler;
  /** Add alm.spanProcessors to the provider (default true). */
  withAlmProcessors?: boolean;
  extraProcessors?: SpanProcessor[];
}

/** Parse every event with the exported schema; throws with the schema's message on the first bad one. */
export function validated(events: ALMEvent[]): ALMEvent[] {
  for (const event of events) ALMEventSchema.parse(event);
  return events;
}

export function createHarness(options: HarnessOptions = {}): Harness {
  trace.disable();
  context.disable();
  const events: ALMEvent[] = [];
  const errors: Error[] = [];
  const alm = new ALM({
    agentId: 'test-agent',
    onError: (error) => errors.push(error),
    ...options.alm,
    events: {
      sink: (batch) => {
        events.push(...batch);
      },
      flushIntervalMs: 20,
      ...options.alm?.events,
    },
  });
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    sampler: options.sampler,
    spanProcessors: [
      ...(options.withAlmProcessors === false ? [] : alm.spanProcessors),
      ...(options.extraProcessors ?? []),
      new SimpleSpanProcessor({ exporter }),
    ],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
  return {
    alm,
    events,
    errors,
    exporter,
    provider,
    tracer: trace.getTracer('test'),
    async flushEvents() {
      await alm.flush();
      return validated(events);
    },
    spans: () => exporter.getFinishedSpans(),
    span(name) {
      const found = exporter.getFinishedSpans().filter((s) => s.name === name);
      if (found.length !== 1) throw new Error(`expected one span named '${name}', found ${found.length}`);
      return found[0]!;
    },
    async close() {
      await alm.shutdown();
      validated(events); // every event any test saw, checked against the exported schema
      await provider.shutdown();
      trace.disable();
      context.disable();
    },
  };
}

export function ofType<T extends ALMEvent['event_type']>(
  events: ALMEvent[],
  type: T,
): Extract<ALMEvent, { event_type: T }>[] {
  return events.filter((e): e is Extract<ALMEvent, { event_type: T }> => e.event_type === type);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A tracer of a second provider whose only processor is `h.alm`'s, as an SDK older than sdk-trace-base
 * 2.3 calls it: no onEnding (create the harness with `withAlmProcessors: false`).
 */
export function noOnEndingTracer(h: Harness): Tracer {
  const [processor] = h.alm.spanProcessors;
  const older = {
    onStart: (span: never, ctx: never) => processor!.onStart(span, ctx),
    onEnd: (span: ReadableSpan) => processor!.onEnd(span),
    forceFlush: () => processor!.forceFlush(),
    shutdown: () => processor!.shutdown(),
  };
  return new TracerProvider({ spanProcessors: [older] }).getTracer('old');
}
