/**
 * `alm-otel/testing`: an ALM for tests whose events and spans are captured in memory.
 *
 *   const alm = createTestALM({ policy: { deniedTools: ['rm'] } });
 *   const search = alm.tool('search', (q: string) => q);
 *   await alm.run(() => search('otel'));
 *   const events = await alm.events();   // delivered, checked against ALMEventSchema
 *   alm.spanTree();                      // the last run's spans as a tree
 *
 * The spans go through a real OpenTelemetry SDK (`@opentelemetry/sdk-trace`: a TracerProvider with a
 * SimpleSpanProcessor and an InMemorySpanExporter) that belongs to this instance alone: nothing is
 * registered globally, so tests never see each other's spans, in any order, in parallel or not. No
 * timers keep a test runner alive and no process-exit hooks are installed.
 */
import { SpanStatusCode, type Context, type Tracer } from '@opentelemetry/api';
import { createRequire } from 'node:module';
import type * as SdkTrace from '@opentelemetry/sdk-trace';
import type { InMemorySpanExporter, ReadableSpan, Span, SpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
// The package's own entry, not its files: the published helpers then use the very ALM class (and its
// errors) the application imports, not a second bundled copy (tsup keeps 'alm-otel' external).
import { ALM, ALMEventSchema, type ALMEvent, type ALMEventType, type ALMOptions } from 'alm-otel';
import { ENGLISH } from '../messages';
import * as sc from '../semconv';

/** Options of `new ALM(...)`, except where events go (they are captured); `agentId` defaults to 'test-agent'. */
export type TestALMOptions = Omit<ALMOptions, 'events' | 'tracerProvider'> & {
  events?: Omit<
    NonNullable<ALMOptions['events']>,
    'sink' | 'endpoint' | 'apiKey' | 'path' | 'allowInsecure' | 'flushOnExit'
  >;
};

export type EventOf<T extends ALMEventType> = Extract<ALMEvent, { event_type: T }>;

/** A finished span and the spans that ended under it, in start order. */
export interface SpanNode {
  readonly name: string;
  readonly span: ReadableSpan;
  readonly children: SpanNode[];
}

const SDK_TRACE = '@opentelemetry/sdk-trace';

/** The install lines that resolve, by Node version (npm picks sdk-trace 2.x on Node 20, whose peer is api < 1.10). */
const SDK_TRACE_INSTALL =
  'on Node 22.15 or newer: npm install --save-dev @opentelemetry/sdk-trace@^3 (beside @opentelemetry/api 1.10); ' +
  'on Node 18.19/20: npm install --save-dev @opentelemetry/sdk-trace@^2.9.0 @opentelemetry/api@~1.9.0 (sdk-trace 2.x accepts api < 1.10, 3.x needs Node 22.15)';

let sdkTrace: typeof SdkTrace | undefined;

/**
 * The SDK, loaded when the first test ALM is made rather than when this module is imported, so that a
 * missing package gets an error that says what to install instead of a bare ERR_MODULE_NOT_FOUND.
 */
function loadSdkTrace(): typeof SdkTrace {
  if (sdkTrace !== undefined) return sdkTrace;
  try {
    sdkTrace = createRequire(__filename)(SDK_TRACE) as typeof SdkTrace;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'MODULE_NOT_FOUND' && code !== 'ERR_MODULE_NOT_FOUND') throw error;
    throw new Error(
      `alm-otel/testing needs ${SDK_TRACE} (>=2.9.0 <4), an optional peer dependency of alm-otel that is not installed. ` +
        `Install it as a dev dependency: ${SDK_TRACE_INSTALL}.`,
      { cause: error },
    );
  }
  return sdkTrace;
}

/** Hands spans to the ALM's own processors, which exist only once the ALM does. */
class Forward implements SpanProcessor {
  targets: readonly SpanProcessor[] = [];
  onStart(span: Span, parent: Context): void {
    for (const p of this.targets) p.onStart(span, parent);
  }
  onEnding(span: Span): void {
    for (const p of this.targets) p.onEnding?.(span);
  }
  onEnd(span: ReadableSpan): void {
    for (const p of this.targets) p.onEnd(span);
  }
  async forceFlush(): Promise<void> {
    await Promise.all(this.targets.map((p) => p.forceFlush()));
  }
  async shutdown(): Promise<void> {
    await Promise.all(this.targets.map((p) => p.shutdown()));
  }
}

function parentId(span: ReadableSpan): string | undefined {
  // SDK 2.x: parentSpanContext; 1.x: parentSpanId.
  return span.parentSpanContext?.spanId ?? (span as { parentSpanId?: string }).parentSpanId;
}

/** What spanTreeText prints after a span's name. */
function outcomeOf(span: ReadableSpan): string {
  const a = span.attributes;
  const errorType = typeof a[sc.ATTR_ERROR_TYPE] === 'string' ? ` ${a[sc.ATTR_ERROR_TYPE]}` : '';
  const status = a[sc.ATTR_ALM_TOOL_STATUS] ?? a[sc.ATTR_ALM_LLM_STATUS];
  let outcome: string;
  if (status === 'success') outcome = '✓';
  else if (status === 'denied') outcome = '⊘ DENIED';
  else if (status === 'error') outcome = `✗ ERROR${errorType}`;
  else {
    const success = a[sc.ATTR_ALM_RUN_SUCCESS] ?? a[sc.ATTR_ALM_TASK_SUCCESS];
    if (success === true) outcome = '✓';
    else if (success === false || span.status.code === SpanStatusCode.ERROR) outcome = `✗ ERROR${errorType}`;
    else outcome = '';
  }
  if (a[sc.ATTR_ALM_POLICY_DECISION] === 'deny' && status !== 'denied') outcome += ' (policy: deny, not blocked)';
  return outcome;
}

function hrMs(t: readonly [number, number]): number {
  return t[0] * 1e3 + t[1] / 1e6;
}

interface Internals {
  exporter: InMemorySpanExporter;
  provider: TracerProvider;
  forward: Forward;
  captured: ALMEvent[];
  errors: Error[];
  /** What the sink has received, and how many of the next ones belong to before the last reset(). */
  sink: { received: number; discard: number };
}

export class TestALM extends ALM {
  /** The SDK pieces, for anything the helpers do not cover. */
  readonly exporter: InMemorySpanExporter;
  readonly provider: TracerProvider;
  /** A tracer of this instance's provider, for spans of your own (they nest under an active context you manage). */
  readonly tracer: Tracer;
  /** alm-otel's own problems (delivery, instrumentation) passed to onError, in order. */
  readonly errors: readonly Error[];
  private readonly captured: ALMEvent[];
  private readonly sink: Internals['sink'];
  /** How many captured events were checked against the schema already. */
  private checked = 0;

  /** Use createTestALM(). */
  constructor(options: ALMOptions, internals: Internals) {
    super(options);
    this.exporter = internals.exporter;
    this.provider = internals.provider;
    this.captured = internals.captured;
    this.errors = internals.errors;
    this.sink = internals.sink;
    internals.forward.targets = this.spanProcessors;
    this.tracer = this.provider.getTracer('alm-otel-testing');
  }

  /**
   * Every event delivered so far, in order, after delivering what is queued. Each is checked against
   * ALMEventSchema: an invalid one throws, naming the event and the field.
   */
  async events(): Promise<ALMEvent[]> {
    await this.flush();
    await this.provider.forceFlush(); // the in-memory exporter answers each export on a 0 ms timer
    for (; this.checked < this.captured.length; this.checked++) {
      const event = this.captured[this.checked]!;
      const result = ALMEventSchema.safeParse(event, ENGLISH);
      if (!result.success) {
        const issue = result.error.issues[0]!;
        throw new Error(
          `event ${this.checked} (${String(event.event_type)}) does not match ALMEventSchema: ${issue.path.join('.')}: ${issue.message}`,
        );
      }
    }
    return [...this.captured];
  }

  /** The events of one run (default: the last run that started), after delivering what is queued. */
  async runEvents(runId?: string): Promise<ALMEvent[]> {
    const events = await this.events();
    const id = runId ?? events.filter((e) => e.event_type === 'run.start').at(-1)?.run_id;
    return id === undefined ? [] : events.filter((e) => e.run_id === id);
  }

  /** Events of one type (of one run, when `runId` is given), after delivering what is queued. */
  async eventsOfType<T extends ALMEventType>(type: T, runId?: string): Promise<EventOf<T>[]> {
    const events = runId === undefined ? await this.events() : await this.runEvents(runId);
    return events.filter((e): e is EventOf<T> => e.event_type === type);
  }

  /** Finished spans, in the order they ended. */
  spans(): ReadableSpan[] {
    return this.exporter.getFinishedSpans();
  }

  /** The one finished span with this name; throws when there is none or several. */
  span(name: string): ReadableSpan {
    const found = this.spans().filter((s) => s.name === name);
    if (found.length !== 1) throw new Error(`expected one span named '${name}', found ${found.length}`);
    return found[0]!;
  }

  /**
   * A run's spans as a tree rooted at its invoke_agent span (default: the last run that ended). Spans
   * of your own in between are included. Undefined when the run's span has not ended (or was not sampled).
   */
  spanTree(runId?: string): SpanNode | undefined {
    const spans = this.spans();
    const runs = spans.filter(
      (s) =>
        s.attributes[sc.ATTR_GEN_AI_OPERATION_NAME] === sc.GEN_AI_OPERATION_NAME_VALUE_INVOKE_AGENT &&
        s.attributes[sc.ATTR_ALM_RUN_ID] !== undefined,
    );
    const root = runId === undefined ? runs.at(-1) : runs.find((s) => s.attributes[sc.ATTR_ALM_RUN_ID] === runId);
    if (root === undefined) return undefined;
    const byParent = new Map<string, ReadableSpan[]>();
    for (const span of spans) {
      const parent = parentId(span);
      if (parent === undefined) continue;
      const siblings = byParent.get(parent) ?? [];
      siblings.push(span);
      byParent.set(parent, siblings);
    }
    const node = (span: ReadableSpan): SpanNode => ({
      name: span.name,
      span,
      children: (byParent.get(span.spanContext().spanId) ?? [])
        .sort((a, b) => hrMs(a.startTime) - hrMs(b.startTime))
        .map(node),
    });
    return node(root);
  }

  /**
   * `spanTree` as indented span names, one per line, each followed by its outcome: handy in
   * assertions. `✓` success, `⊘ DENIED` a call the policy or a budget refused, `✗ ERROR` a call that
   * failed (with its error.type when known); a call the policy would deny in monitor mode adds
   * `(policy: deny, not blocked)`. Spans of your own show `✗ ERROR` when their status is an error.
   *
   *   invoke_agent test-agent  ✓
   *     execute_tool read_file  ✓
   *     execute_tool read_file  ⊘ DENIED
   */
  spanTreeText(runId?: string): string {
    const lines: string[] = [];
    const root = this.spanTree(runId);
    const stack: { node: SpanNode; depth: number }[] = root === undefined ? [] : [{ node: root, depth: 0 }];
    while (stack.length > 0) {
      const { node, depth } = stack.pop()!;
      const outcome = outcomeOf(node.span);
      lines.push(`${'  '.repeat(depth)}${node.name}${outcome === '' ? '' : `  ${outcome}`}`);
      for (let i = node.children.length - 1; i >= 0; i--) stack.push({ node: node.children[i]!, depth: depth + 1 });
    }
    return lines.join('\n');
  }

  /**
   * Forget the events, spans and errors captured so far, and the events emitted but not delivered yet
   * (still queued, or in a batch on its way): after reset(), `events()` returns only what is emitted
   * after it. The instance stays usable.
   */
  reset(): void {
    // stats() turns every queued record into events; delivery keeps them in order, so the next
    // `pending` events the sink receives are from before this call.
    const stats = this.stats();
    const pending = stats.emitted - this.sink.received - stats.failed - stats.dropped;
    this.sink.discard = Math.max(0, pending);
    this.captured.length = 0;
    this.checked = 0;
    (this.errors as Error[]).length = 0;
    this.exporter.reset();
  }

  /** Deliver everything, then shut the ALM and its tracer provider down. */
  override async shutdown(): Promise<void> {
    await super.shutdown();
    await this.provider.shutdown();
  }
}

/**
 * An ALM for tests: events captured in memory (no sink, no exit hooks), spans recorded by a real
 * in-memory SDK of its own (nothing registered globally). Any `new ALM` option applies except where
 * events go; `agentId` defaults to 'test-agent'.
 */
export function createTestALM(options: TestALMOptions = {}): TestALM {
  const events = (options.events ?? {}) as Record<string, unknown>;
  for (const key of ['sink', 'endpoint', 'apiKey', 'path', 'allowInsecure', 'flushOnExit']) {
    if (key in events)
      throw new TypeError(`createTestALM: events.${key} is not an option here (events are captured in memory)`);
  }
  if ('tracerProvider' in options) {
    throw new TypeError('createTestALM: tracerProvider is not an option here (each test ALM has its own SDK)');
  }
  const { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } = loadSdkTrace();
  const exporter = new InMemorySpanExporter();
  const forward = new Forward();
  const provider = new TracerProvider({ spanProcessors: [forward, new SimpleSpanProcessor({ exporter })] });
  const captured: ALMEvent[] = [];
  const errors: Error[] = [];
  const received = { received: 0, discard: 0 };
  const onError = options.onError;
  return new TestALM(
    {
      agentId: 'test-agent',
      ...options,
      events: {
        ...options.events,
        sink: (batch) => {
          received.received += batch.length;
          const skip = Math.min(received.discard, batch.length);
          received.discard -= skip;
          for (let i = skip; i < batch.length; i++) captured.push(batch[i]!);
        },
        flushOnExit: false,
      },
      tracerProvider: provider,
      onError: (error) => {
        errors.push(error);
        onError?.(error);
      },
    },
    { exporter, provider, forward, captured, errors, sink: received },
  );
}
