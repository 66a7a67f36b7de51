/**
 * OpRecord: the span data the event translator reads. alm-otel builds one for each run, task, tool
 * call and handoff it instruments (whether or not the OTel span is sampled), and `recordFromSpan`
 * builds one from any finished OTel span, so both paths share one translation to events.
 */
import { SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import * as sc from '../semconv';
import { toStructuredError } from './errors';

export interface OpRecord {
  /** Span attributes by semconv key. Structured values (arguments, result, context) are plain data here, JSON text on spans. */
  readonly attributes: Record<string, unknown>;
  /** Epoch milliseconds (fractional). */
  startTime: number;
  /** Epoch milliseconds; 0 while the operation is still going. */
  endTime: number;
  traceId: string | null;
  spanId: string | null;
}

export type OpKind = 'run' | 'task' | 'tool' | 'handoff';

export function opKind(attributes: Record<string, unknown>): OpKind | undefined {
  const operation = attributes[sc.ATTR_GEN_AI_OPERATION_NAME];
  if (operation === sc.GEN_AI_OPERATION_NAME_VALUE_EXECUTE_TOOL) return 'tool';
  // Another library's invoke_agent span is not an ALM run; ours always carry the run id.
  if (operation === sc.GEN_AI_OPERATION_NAME_VALUE_INVOKE_AGENT) {
    return attributes[sc.ATTR_ALM_RUN_ID] !== undefined ? 'run' : undefined;
  }
  if (attributes[sc.ATTR_ALM_TASK_ID] !== undefined) return 'task';
  if (attributes[sc.ATTR_ALM_HANDOFF_TO_AGENT_ID] !== undefined) return 'handoff';
  return undefined;
}

/** Attributes that hold JSON text on a span and plain data in a record. */
export const STRUCTURED_ATTRIBUTES = [
  sc.ATTR_GEN_AI_TOOL_CALL_ARGUMENTS,
  sc.ATTR_GEN_AI_TOOL_CALL_RESULT,
  sc.ATTR_ALM_HANDOFF_CONTEXT,
] as const;

const INVALID_TRACE_ID = '00000000000000000000000000000000';
const INVALID_SPAN_ID = '0000000000000000';

/** Trace and span ids of a span, or nulls when its context is invalid (no SDK registered). */
export function spanIds(span: { spanContext(): { traceId: string; spanId: string } }): [string | null, string | null] {
  const ctx = span.spanContext();
  return ctx.traceId === INVALID_TRACE_ID || ctx.spanId === INVALID_SPAN_ID ? [null, null] : [ctx.traceId, ctx.spanId];
}

function hrTimeToMs(t: readonly [number, number]): number {
  return t[0] * 1e3 + t[1] / 1e6;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A record of what a span said when it started: attributes (structured ones parsed), start time, ids. */
export function startRecordFromSpan(span: Pick<ReadableSpan, 'attributes' | 'startTime' | 'spanContext'>): OpRecord {
  const attributes: Record<string, unknown> = { ...span.attributes };
  for (const key of STRUCTURED_ATTRIBUTES) {
    const value = attributes[key];
    if (typeof value === 'string') attributes[key] = parseJson(value);
  }
  const [traceId, spanId] = spanIds(span);
  return { attributes, startTime: hrTimeToMs(span.startTime), endTime: 0, traceId, spanId };
}

/**
 * A record from a finished OTel span (ours, or another instrumentation's execute_tool span).
 * Outcome fields a foreign span lacks are derived from its status and duration.
 */
export function recordFromSpan(span: ReadableSpan): OpRecord {
  const rec = startRecordFromSpan(span);
  const a = rec.attributes;
  rec.endTime = hrTimeToMs(span.endTime);
  const failed = span.status.code === SpanStatusCode.ERROR;
  if (failed && a[sc.ATTR_ERROR_TYPE] === undefined) {
    const error = toStructuredError({ name: 'Error', message: span.status.message ?? '' }, 'tool');
    a[sc.ATTR_ERROR_TYPE] = error.type;
    a[sc.ATTR_ALM_ERROR_RETRYABLE] = error.retryable;
  }
  if (failed && a[sc.ATTR_ALM_ERROR_MESSAGE] === undefined) a[sc.ATTR_ALM_ERROR_MESSAGE] = span.status.message ?? '';
  if (opKind(a) === 'tool') {
    if (a[sc.ATTR_ALM_TOOL_STATUS] === undefined) a[sc.ATTR_ALM_TOOL_STATUS] = failed ? 'error' : 'success';
    if (a[sc.ATTR_ALM_TOOL_LATENCY_MS] === undefined)
      a[sc.ATTR_ALM_TOOL_LATENCY_MS] = Math.max(0, rec.endTime - rec.startTime);
  }
  return rec;
}
