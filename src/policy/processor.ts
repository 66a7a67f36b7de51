/**
 * The policy SpanProcessor. alm-otel's own tool spans are decided before they start (so enforcement
 * holds even when the span is not sampled); this processor covers the tool spans other
 * instrumentations create, in every convention of policy/conventions.ts (OpenTelemetry GenAI,
 * OpenInference, OpenLLMetry, the Vercel AI SDK's ai.toolCall): it decides them against the same
 * policy as soon as their tool name is known (at start, or later: see policy/foreign.ts), counts them
 * toward the enclosing run's budget, records the decision on the span, flags a violation when the
 * call should have been denied (a processor cannot block it), and adds them to the ALM event stream.
 * It never throws into the pipeline.
 */
import { context, trace, type Context, type Span as ApiSpan } from '@opentelemetry/api';
import type { RunState } from '../instrument/run-state';
import type { ReadableSpan, Span, SpanProcessor } from '../otel-types';
import { WITHHELD_INPUTS, WITHHELD_OUTPUTS, truncateString } from '../events/capture';
import { Phase } from '../events/pipeline';
import { recordFromSpan } from '../events/record';
import { emit } from '../instrument/operation';
import type { Runtime } from '../instrument/runtime';
import { adoptRemoteRun } from '../instrument/remote-run';
import * as sc from '../semconv';
import { decideForeign, ForeignSpan, watch } from './foreign';
import { endModelSpan, recogniseModelSpan, startModelSpan } from './model-spans';
import { isUnrelatedScope, unrelatedByAttributes } from './unrelated';

/** The tracer name alm-otel's own spans come from (alm.ts). */
const ALM_SCOPE = 'alm-otel';
const MAX_OPEN_SPANS = 10_000;
/** Enclosing spans marked around an alm model call. */
const MAX_ANCESTORS = 8;

/** How many unrelated instrumentation scopes are remembered by identity (an application has a handful). */
const MAX_UNRELATED_SCOPES = 8;

export class PolicySpanProcessor implements SpanProcessor {
  /**
   * The hook called while a span can still be written to; present only while a tracked span is open.
   * The SDK looks it up on the processor each time a span ends (MultiSpanProcessor, sdk-trace 2.3 to 3.x)
   * and calls nothing when it is absent: the application's other spans cost no call. A span is tracked
   * from its start to its end, so the hook is there for every span it concerns.
   */
  onEnding: ((span: Span) => void) | undefined = undefined;

  /** Whether the SDK calls onEnding (sdk-trace-base 2.3 and later); until one call is seen, assume not. */
  private endingCalled = false;

  /** Spans in `rt.foreignCalls`: none open, onEnding is withdrawn and onEnd has nothing to look up. */
  private tracked = 0;

  /**
   * Instrumentation scopes (the SDK's object, one per tracer) whose spans are all unrelated: a span from
   * one of them is passed over with one comparison, before any other work.
   */
  private readonly unrelatedScopes: unknown[] = [];

  /**
   * Open foreign spans by span id, for a parent known only by its span context: instrumentations that
   * parent a span explicitly (OpenInference's LangChain tracer: `trace.setSpanContext`) hand a wrapper,
   * not the span object the WeakMap knows.
   */
  private readonly bySpanId = new Map<string, ForeignSpan>();

  constructor(private readonly rt: Runtime) {}

  /** For tests: how many spans the processor is tracking (started, not ended, not unrelated). */
  get trackedSpans(): number {
    return this.tracked;
  }

  /** Whether the span comes from a scope remembered as unrelated: pointer comparisons, nothing else. */
  private passedOver(span: object): boolean {
    const scope = (span as { instrumentationScope?: unknown }).instrumentationScope;
    const unrelated = this.unrelatedScopes;
    for (let i = 0; i < unrelated.length; i++) if (unrelated[i] === scope) return true;
    return false;
  }

  private parentOf(parentSpan: ApiSpan | undefined): ForeignSpan | undefined {
    if (parentSpan === undefined) return undefined;
    return this.rt.foreignCalls.get(parentSpan) ?? this.bySpanId.get(parentSpan.spanContext().spanId);
  }

  onStart(span: Span, parentContext: Context): void {
    try {
      // The application's HTTP, database, messaging spans from OpenTelemetry's instrumentations: one
      // comparison by scope identity, nothing else read, nothing kept.
      if (this.passedOver(span)) return;
      const scopeObject: unknown = (span as { instrumentationScope?: unknown }).instrumentationScope;
      const unrelated = this.unrelatedScopes;
      // alm-otel's own spans carry their decision from the start.
      const scope = (scopeObject as { name?: unknown } | undefined)?.name;
      const name = typeof scope === 'string' ? scope : undefined;
      if (name === ALM_SCOPE) {
        if (span.attributes[sc.ATTR_ALM_LLM_CALL_ID] !== undefined) this.almModelCallIn(parentContext);
        return;
      }
      if (isUnrelatedScope(name)) {
        if (unrelated.length < MAX_UNRELATED_SCOPES && typeof scopeObject === 'object') unrelated.push(scopeObject);
        return;
      }
      // Other spans whose start attributes say they are HTTP, database, messaging or RPC calls.
      if (unrelatedByAttributes(span.attributes)) return;
      if (span.attributes[sc.ATTR_ALM_POLICY_DECISION] !== undefined) return;
      this.track(span, parentContext);
    } catch (error) {
      this.rt.report(error);
    }
  }

  /** A span that may be, or become, a tool or model span: kept until it ends, and decided when it can be. */
  private track(span: Span, parentContext: Context): void {
    const parentSpan = trace.getSpan(parentContext);
    const parent = this.parentOf(parentSpan);
    // onStart runs synchronously in the caller's async context, so the current run is at hand; a
    // span started from a callback outside it (LangChain's tracer) belongs to its parent's run.
    const run = this.rt.storage.getStore()?.run ?? parent?.run ?? adoptRemoteRun(this.rt, parentContext);
    const state = new ForeignSpan(span, run, parent);
    if (!this.rt.foreignCalls.has(span)) this.tracked++;
    this.rt.foreignCalls.set(span, state);
    this.onEnding = this.ending;
    this.bySpanId.set(span.spanContext().spanId, state);
    // Spans that never end must not grow it without bound: the oldest go first.
    if (this.bySpanId.size > MAX_OPEN_SPANS) this.bySpanId.delete(this.bySpanId.keys().next().value!);
    const active = trace.getSpan(context.active());
    if (active !== undefined) placeInCaller(this.rt, state, active, parentSpan, run);
    startModelSpan(this.rt, state, parentSpan);
    const late = this.rt.lateToolSpans;
    state.startSeq = ++late.seq;
    // A child starting is a moment the parent's late attributes may have arrived: decide it now.
    if (parent?.modelPending === true) recogniseModelSpan(this.rt, parent);
    if (parent !== undefined && parent.call === undefined) decideForeign(this.rt, parent);
    // Undecided in a run: it may be named as a tool later, and an alm tool may run it meanwhile.
    if (decideForeign(this.rt, state) === undefined && run !== undefined && !state.claimed) {
      state.lateSeq = late.seq;
      late.open++;
      // Without onEnding, a name set after start is seen when it is set, or else too late to flag.
      if (!this.endingCalled) watch(this.rt, state);
    }
  }

  /**
   * An alm model call (alm.llm, alm.aiSdkModel) started inside other instrumentations' spans: an enclosing
   * model span (Mastra's chat span around a whole generate(), its model_step spans) is the same model
   * work, which alm counts, call by call: those spans count nothing.
   */
  private almModelCallIn(parentContext: Context): void {
    let s = this.parentOf(trace.getSpan(parentContext));
    for (let depth = 0; s !== undefined && depth < MAX_ANCESTORS; depth++, s = s.parent) s.almModelCalls = true;
  }

  /** The last moment the span is writable: a tool name set after start is decided here at the latest. */
  private readonly ending = (span: Span): void => {
    this.endingCalled = true;
    if (this.passedOver(span)) return;
    const state = this.rt.foreignCalls.get(span);
    if (state === undefined) return;
    if (state.modelPending) recogniseModelSpan(this.rt, state);
    if (state.call !== undefined) return;
    try {
      decideForeign(this.rt, state);
      this.rt.lateToolSpans.settle(state);
    } catch (error) {
      this.rt.report(error);
    }
  };

  onEnd(span: ReadableSpan): void {
    // Nothing tracked, or a span passed over at start: nothing to look up.
    if (this.tracked === 0 || this.passedOver(span)) return;
    const state = this.rt.foreignCalls.get(span);
    if (state === undefined) return;
    this.rt.foreignCalls.delete(span);
    this.bySpanId.delete(span.spanContext().spanId);
    if (--this.tracked === 0) this.onEnding = undefined;
    try {
      // An SDK without onEnding (before sdk-trace-base 2.3): decided now, too late to write on the span.
      state.ended = true;
      endModelSpan(this.rt, state, span.attributes);
      const call = decideForeign(this.rt, state);
      this.rt.lateToolSpans.settle(state);
      this.rt.lateToolSpans.forget(state);
      // Reported by an alm tool inside it, by the enclosing span of the same call, or not a tool call.
      if (call === undefined || state.claimed || state.nestedIn !== undefined) return;
      const record = recordFromSpan(span, this.rt.content.sensitive);
      if (record?.kind !== 'tool') return;
      // Bounded like every string events carry (the decision matched the whole name).
      record.toolName = truncateString(call.toolName);
      record.toolCallId = call.toolCallId === undefined ? record.toolCallId : truncateString(call.toolCallId);
      // The instance's capture switches hold for other instrumentations' tool content too.
      if (!this.rt.content.inputs) record.args = WITHHELD_INPUTS;
      if (!this.rt.content.outputs && record.result !== undefined) record.result = WITHHELD_OUTPUTS;
      record.decision = call.decision.allow ? 'allow' : 'deny';
      record.reason = call.decision.reason;
      record.policyMs = call.policyMs;
      record.runId = state.run?.runId ?? null;
      if (state.callerTraceId !== undefined) record.traceId = state.callerTraceId;
      state.run?.recordToolCall(call.decision.allow, record.status, record.toolMs, call.policyMs);
      emit(this.rt, state.run, record, Phase.Both); // none after its run.end
    } catch (error) {
      this.rt.report(error);
    }
  }

  /** Delivers the ALM events queued so far. */
  forceFlush(): Promise<void> {
    return this.rt.events.flush();
  }

  /** Stops nothing but delivers what is queued: the ALM instance lives on, and alm.shutdown() ends it. */
  shutdown(): Promise<void> {
    return this.rt.events.flush();
  }
}

/**
 * Where the span was started from, when that is not where it says it is: an alm protocol call it is
 * part of, and, in a run, the caller's trace when its instrumentation parented it into another one
 * (OpenLLMetry's MCP instrumentation parents each request under the session span made at connect()).
 */
function placeInCaller(
  rt: Runtime,
  state: ForeignSpan,
  active: ApiSpan,
  parentSpan: ApiSpan | undefined,
  run: RunState | undefined,
): void {
  state.within = rt.protocolCalls.get(active);
  if (run === undefined || parentSpan === undefined) return;
  const callerTrace = active.spanContext().traceId;
  if (callerTrace !== parentSpan.spanContext().traceId) state.callerTraceId = callerTrace;
}
