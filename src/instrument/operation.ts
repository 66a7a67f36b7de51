/**
 * One instrumented operation: an OTel span and its OpRecord, kept in step. The record is what the
 * event stream is built from, so it is complete even when the span is not sampled; the span gets
 * the same attributes only when it is recording.
 */
import {
  INVALID_SPAN_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
} from '@opentelemetry/api';
import { safeJson } from '../events/capture';
import type { StructuredError } from '../events/errors';
import { spanIds, type OpRecord } from '../events/record';
import * as sc from '../semconv';
import type { Runtime } from './runtime';

export class Operation {
  readonly span: Span;
  readonly record: OpRecord;
  /** The parent context with this operation's span set: the context its body runs in. */
  readonly context: Context;
  private readonly recording: boolean;

  constructor(
    rt: Runtime,
    name: string,
    attributes: Record<string, string | number | boolean>,
    parent: Context,
    startTime: number,
  ) {
    let span: Span;
    try {
      span = rt.tracer.startSpan(name, { kind: SpanKind.INTERNAL, attributes }, parent);
    } catch (error) {
      // A broken tracer must not stop the agent: carry on with a non-recording span.
      rt.report(error);
      span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
    }
    this.span = span;
    this.recording = span.isRecording();
    const [traceId, spanId] = spanIds(span);
    this.record = { attributes, startTime, endTime: 0, traceId, spanId };
    this.context = trace.setSpan(parent, span);
  }

  set(key: string, value: string | number | boolean): void {
    this.record.attributes[key] = value;
    if (this.recording) this.span.setAttribute(key, value);
  }

  setAll(attributes: Attributes): void {
    Object.assign(this.record.attributes, attributes);
    if (this.recording) this.span.setAttributes(attributes);
  }

  /** A structured value: plain data in the record, JSON text on the span (SDK 2.x drops object attributes). */
  setStructured(key: string, value: unknown): void {
    this.record.attributes[key] = value;
    if (this.recording) this.span.setAttribute(key, safeJson(value));
  }

  addEvent(name: string, attributes: Attributes): void {
    if (this.recording) this.span.addEvent(name, attributes);
  }

  /** Mark the operation failed: structured error attributes, span status ERROR, and the exception. */
  fail(error: StructuredError, thrown: unknown): void {
    const attributes: Attributes = {
      [sc.ATTR_ERROR_TYPE]: error.type,
      [sc.ATTR_ALM_ERROR_MESSAGE]: error.message,
      [sc.ATTR_ALM_ERROR_SOURCE]: error.source,
      [sc.ATTR_ALM_ERROR_RETRYABLE]: error.retryable,
    };
    if (error.code !== undefined) attributes[sc.ATTR_ALM_ERROR_CODE] = error.code;
    this.setAll(attributes);
    if (!this.recording) return;
    this.span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
    try {
      this.span.recordException(thrown instanceof Error ? thrown : { name: error.type, message: error.message });
    } catch {
      this.span.recordException({ name: error.type, message: error.message });
    }
  }

  end(endTime: number): void {
    this.record.endTime = endTime;
    this.span.end();
  }
}
