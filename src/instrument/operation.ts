/**
 * One instrumented operation: an OTel span and the record the event stream is built from, written
 * together. Subclasses (one per kind) are the records themselves, with a fixed shape, so the hot path
 * allocates little. The record is complete even when the span is not sampled; the span gets
 * attributes only when it is recording.
 */
import {
  INVALID_SPAN_CONTEXT,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type AttributeValue,
  type Attributes,
  type Context,
  type Span,
} from '@opentelemetry/api';
import type { StructuredError } from '../events/errors';
import type { Phase } from '../events/pipeline';
import type { OpRecord } from '../events/record';
import { isValidSpanContext } from '../events/record';
import * as sc from '../semconv';
import type { ErrorReporter } from '../report';
import type { RunState } from './run-state';
import type { Runtime } from './runtime';

function defined(attributes: Attributes): Attributes {
  const kept: Attributes = {};
  for (const [key, value] of Object.entries(attributes)) if (value !== undefined) kept[key] = value;
  return kept;
}

/**
 * Queue a record's events, unless its run has ended: no event of a run follows its run.end (a
 * timed-out tool's body that kept running, a background loop), so those are dropped and counted.
 */
export function emit(rt: Runtime, run: RunState | undefined, record: OpRecord, phase: Phase): void {
  if (run !== undefined && run.ended) {
    rt.detached = true;
    rt.events.discard(record, phase);
  } else rt.events.enqueue(record, phase);
}

export abstract class Operation {
  /** The span, until the operation ends (the record outlives it in the event queue). */
  protected span: Span | undefined;
  /**
   * The parent context with this operation's span set: the context its body runs in. Let go at the
   * end (ROOT_CONTEXT), with the span: the record may wait in the event queue, and must not keep the
   * ended span and its parents' contexts alive meanwhile.
   */
  otelContext: Context;
  readonly traceId: string | null;
  readonly spanId: string | null;
  endTime = 0;
  /** See RecordBase.queueDropped; declared here so that every operation has it from the start. */
  queueDropped = false;
  private readonly recording: boolean;
  private readonly report: ErrorReporter;
  /** False when the span is another instrumentation's, joined: it ends it, not this operation. */
  private readonly ownsSpan: boolean;

  protected constructor(
    rt: Runtime,
    name: string,
    /** Attributes at start (the SDK copies what it keeps; undefined values are skipped). */
    attributes: Attributes,
    parent: Context,
    readonly startTime: number,
    readonly runId: string | null,
    kind: SpanKind = SpanKind.INTERNAL,
    /** Another instrumentation's open span for the same operation: decorated instead of starting one. */
    joined?: Span,
  ) {
    this.report = rt.report;
    this.ownsSpan = joined === undefined;
    let span: Span;
    try {
      // The record's own times, so that the span and the events agree (and the SDK reads no clock at the end).
      span = joined ?? rt.tracer.startSpan(name, { kind, attributes, startTime }, parent);
    } catch (error) {
      // A broken tracer must not stop the agent: carry on with a non-recording span.
      rt.report(error);
      span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
    }
    this.span = span;
    this.recording = span.isRecording();
    if (joined !== undefined) this.setSpanAttributes(defined(attributes));
    const ids = span.spanContext();
    const valid = isValidSpanContext(ids);
    this.traceId = valid ? ids.traceId : null;
    this.spanId = valid ? ids.spanId : null;
    this.otelContext = trace.setSpan(parent, span);
  }

  // A span that throws (a broken SDK or processor) must not cost the record: its events still go out.
  protected setSpanAttribute(key: string, value: AttributeValue): void {
    if (!this.recording) return;
    try {
      this.span?.setAttribute(key, value);
    } catch (error) {
      this.report(error);
    }
  }

  protected setSpanAttributes(attributes: Attributes): void {
    if (!this.recording) return;
    try {
      this.span?.setAttributes(attributes);
    } catch (error) {
      this.report(error);
    }
  }

  protected addSpanEvent(name: string, attributes: Attributes): void {
    if (!this.recording) return;
    try {
      this.span?.addEvent(name, attributes);
    } catch (error) {
      this.report(error);
    }
  }

  /** Span status ERROR, error.type and the alm.error.* attributes, and the exception. */
  protected markSpanFailed(error: StructuredError, thrown: unknown): void {
    const span = this.span;
    if (!this.recording || span === undefined) return;
    try {
      this.markFailed(span, error, thrown);
    } catch (failure) {
      this.report(failure);
    }
  }

  private markFailed(span: Span, error: StructuredError, thrown: unknown): void {
    span.setAttributes({
      [sc.ATTR_ERROR_TYPE]: error.type,
      [sc.ATTR_ALM_ERROR_MESSAGE]: error.message,
      [sc.ATTR_ALM_ERROR_SOURCE]: error.source,
      [sc.ATTR_ALM_ERROR_RETRYABLE]: error.retryable,
      [sc.ATTR_ALM_ERROR_CODE]: error.code,
    });
    span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
    try {
      span.recordException(thrown instanceof Error ? thrown : { name: error.type, message: error.message });
    } catch {
      span.recordException({ name: error.type, message: error.message });
    }
  }

  protected endSpan(endTime: number): void {
    this.endTime = endTime;
    try {
      if (this.ownsSpan) this.span?.end(endTime);
    } catch (error) {
      this.report(error);
    }
    // The record waits in the event queue for up to flushIntervalMs; let the span go now.
    this.span = undefined;
    this.otelContext = ROOT_CONTEXT;
  }
}
