/**
 * Records: the span data the event translator reads. alm-otel fills one for each run, task, tool call
 * and handoff it instruments (sampled or not: the span and its record are written together), and
 * `recordFromSpan` reads one back from any finished OTel span, so both paths share one translation.
 */
import { SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '../otel-types';
import * as sc from '../semconv';
import { captureValue } from './capture';
import { describeError, type StructuredError } from './errors';
import type { RunSummary } from './schema';

export type ToolStatus = 'success' | 'denied' | 'error';

interface RecordBase {
  /** Epoch milliseconds (fractional). */
  startTime: number;
  /** Epoch milliseconds; 0 while the operation is still going. */
  endTime: number;
  traceId: string | null;
  spanId: string | null;
  runId: string | null;
}

export interface RunRecord extends RecordBase {
  readonly kind: 'run';
  purpose: string | undefined;
  success: boolean;
  summary: RunSummary | undefined;
  error: StructuredError | undefined;
}

export interface TaskRecord extends RecordBase {
  readonly kind: 'task';
  taskId: string;
  taskType: string | undefined;
  description: string | undefined;
  success: boolean;
  error: StructuredError | undefined;
}

export interface ToolRecord extends RecordBase {
  readonly kind: 'tool';
  toolName: string;
  toolCallId: string;
  /** Captured arguments: a plain object (one options argument) or the list of arguments. */
  args: unknown;
  attempt: number;
  retries: number;
  /** Undefined for a foreign tool span no policy processor saw. */
  decision: 'allow' | 'deny' | undefined;
  reason: string | undefined;
  policyMs: number;
  status: ToolStatus;
  toolMs: number;
  result: unknown;
  error: StructuredError | undefined;
}

export interface HandoffRecord extends RecordBase {
  readonly kind: 'handoff';
  fromAgentId: string;
  toAgentId: string;
  reason: string | undefined;
  context: unknown;
}

export type OpRecord = RunRecord | TaskRecord | ToolRecord | HandoffRecord;
export type OpKind = OpRecord['kind'];

type Attrs = ReadableSpan['attributes'];

export function opKind(a: Attrs): OpKind | undefined {
  const operation = a[sc.ATTR_GEN_AI_OPERATION_NAME];
  if (operation === sc.GEN_AI_OPERATION_NAME_VALUE_EXECUTE_TOOL) return 'tool';
  // Another library's invoke_agent span is not an ALM run; ours always carry the run id.
  if (operation === sc.GEN_AI_OPERATION_NAME_VALUE_INVOKE_AGENT) {
    return a[sc.ATTR_ALM_RUN_ID] !== undefined ? 'run' : undefined;
  }
  if (a[sc.ATTR_ALM_TASK_ID] !== undefined) return 'task';
  if (a[sc.ATTR_ALM_HANDOFF_TO_AGENT_ID] !== undefined) return 'handoff';
  return undefined;
}

const INVALID_TRACE_ID = '00000000000000000000000000000000';
const INVALID_SPAN_ID = '0000000000000000';

/** Whether a span context has real ids (it does not when no SDK is registered). */
export function isValidSpanContext(ctx: { traceId: string; spanId: string }): boolean {
  return ctx.traceId !== INVALID_TRACE_ID && ctx.spanId !== INVALID_SPAN_ID;
}

function hrTimeToMs(t: readonly [number, number]): number {
  return t[0] * 1e3 + t[1] / 1e6;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0;
}

/**
 * Content from a span (JSON text) back to data, redacted, truncated and bounded like alm-otel's own
 * capture: another instrumentation's arguments and results get no less care. Absent stays absent.
 */
function structured(v: unknown): unknown {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') return captureValue(v);
  try {
    return captureValue(JSON.parse(v));
  } catch {
    return captureValue(v);
  }
}

function errorFromSpan(span: ReadableSpan, defaultSource: StructuredError['source']): StructuredError | undefined {
  const a = span.attributes;
  const failed = span.status.code === SpanStatusCode.ERROR;
  const type = a[sc.ATTR_ERROR_TYPE];
  if (!failed && type === undefined) return undefined;
  const message = String(a[sc.ATTR_ALM_ERROR_MESSAGE] ?? span.status.message ?? '');
  const error = describeError(typeof type === 'string' ? type : 'Error', message, defaultSource);
  const source = a[sc.ATTR_ALM_ERROR_SOURCE];
  if (source === 'tool' || source === 'policy' || source === 'agent' || source === 'system') error.source = source;
  const retryable = a[sc.ATTR_ALM_ERROR_RETRYABLE];
  if (typeof retryable === 'boolean') error.retryable = retryable;
  const code = a[sc.ATTR_ALM_ERROR_CODE];
  if (code !== undefined) error.code = String(code);
  return error;
}

function summaryFromSpan(a: Attrs): RunSummary {
  return {
    tool_calls: {
      total: num(a[sc.ATTR_ALM_RUN_TOOL_CALLS_TOTAL]),
      allowed: num(a[sc.ATTR_ALM_RUN_TOOL_CALLS_ALLOWED]),
      denied: num(a[sc.ATTR_ALM_RUN_TOOL_CALLS_DENIED]),
      error: num(a[sc.ATTR_ALM_RUN_TOOL_CALLS_ERROR]),
      retried: num(a[sc.ATTR_ALM_RUN_TOOL_CALLS_RETRIED]),
    },
    latencies: {
      avg_tool_ms: num(a[sc.ATTR_ALM_RUN_LATENCY_AVG_TOOL_MS]),
      avg_policy_ms: num(a[sc.ATTR_ALM_RUN_LATENCY_AVG_POLICY_MS]),
      total_run_ms: num(a[sc.ATTR_ALM_RUN_LATENCY_TOTAL_MS]),
    },
    tasks: { completed: num(a[sc.ATTR_ALM_RUN_TASKS_COMPLETED]), failed: num(a[sc.ATTR_ALM_RUN_TASKS_FAILED]) },
    handoffs: num(a[sc.ATTR_ALM_RUN_HANDOFFS]),
  };
}

/**
 * A record from an OTel span: an alm-otel span, or another instrumentation's execute_tool span.
 * The inverse of what src/instrument writes; outcome fields a foreign span lacks come from its status
 * and duration. A span that has not ended yields a record of its start.
 */
export function recordFromSpan(span: ReadableSpan): OpRecord | undefined {
  const a = span.attributes;
  const kind = opKind(a);
  if (kind === undefined) return undefined;
  const ids = span.spanContext();
  const [traceId, spanId] = isValidSpanContext(ids) ? [ids.traceId, ids.spanId] : [null, null];
  const startTime = hrTimeToMs(span.startTime);
  const ended = span.ended;
  const endTime = ended ? hrTimeToMs(span.endTime) : 0;
  const base = { startTime, endTime, traceId, spanId, runId: str(a[sc.ATTR_ALM_RUN_ID]) ?? null };
  const failed = span.status.code === SpanStatusCode.ERROR;
  switch (kind) {
    case 'run':
      return {
        kind,
        ...base,
        purpose: str(a[sc.ATTR_ALM_RUN_PURPOSE]),
        success: a[sc.ATTR_ALM_RUN_SUCCESS] !== false && !failed,
        summary: ended ? summaryFromSpan(a) : undefined,
        error: errorFromSpan(span, 'agent'),
      };
    case 'task':
      return {
        kind,
        ...base,
        taskId: String(a[sc.ATTR_ALM_TASK_ID]),
        taskType: str(a[sc.ATTR_ALM_TASK_TYPE]),
        description: str(a[sc.ATTR_ALM_TASK_DESCRIPTION]),
        success: a[sc.ATTR_ALM_TASK_SUCCESS] !== false && !failed,
        error: errorFromSpan(span, 'agent'),
      };
    case 'tool': {
      const decision = a[sc.ATTR_ALM_POLICY_DECISION];
      const status = a[sc.ATTR_ALM_TOOL_STATUS];
      return {
        kind,
        ...base,
        toolName: str(a[sc.ATTR_GEN_AI_TOOL_NAME]) ?? 'unknown',
        // Foreign tool spans may carry no call id; their span id is stable across start and end.
        toolCallId: str(a[sc.ATTR_GEN_AI_TOOL_CALL_ID]) ?? spanId ?? 'unknown',
        args: structured(a[sc.ATTR_GEN_AI_TOOL_CALL_ARGUMENTS]),
        // Tool calls are not retried, by alm-otel or (as far as a span can say) by others.
        attempt: 1,
        retries: 0,
        decision: decision === 'allow' || decision === 'deny' ? decision : undefined,
        reason: str(a[sc.ATTR_ALM_POLICY_REASON]),
        policyMs: num(a[sc.ATTR_ALM_POLICY_LATENCY_MS]),
        status:
          status === 'success' || status === 'denied' || status === 'error' ? status : failed ? 'error' : 'success',
        // Spans keep latencies off; the span's duration is the tool's time (a denied body never ran).
        toolMs: status === 'denied' ? 0 : Math.max(0, endTime - startTime),
        result: structured(a[sc.ATTR_GEN_AI_TOOL_CALL_RESULT]),
        error: errorFromSpan(span, status === 'denied' ? 'policy' : 'tool'),
      };
    }
    case 'handoff':
      return {
        kind,
        ...base,
        fromAgentId: str(a[sc.ATTR_GEN_AI_AGENT_ID]) ?? 'unknown',
        toAgentId: String(a[sc.ATTR_ALM_HANDOFF_TO_AGENT_ID]),
        reason: str(a[sc.ATTR_ALM_HANDOFF_REASON]),
        context: structured(a[sc.ATTR_ALM_HANDOFF_CONTEXT]),
      };
  }
}
