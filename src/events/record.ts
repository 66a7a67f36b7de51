/**
 * Records: the span data the event translator reads. alm-otel fills one for each run, task, tool call
 * and handoff it instruments (sampled or not: the span and its record are written together), and
 * `recordFromSpan` reads one back from any finished OTel span, so both paths share one translation.
 */
import { SpanStatusCode, type Attributes } from '@opentelemetry/api';
import type { ReadableSpan } from '../otel-types';
import { toolArgsOf, toolCallIdOf, toolConvention, toolNameOf, toolResultOf } from '../policy/conventions';
import * as sc from '../semconv';
import { captureValue, isSensitiveKey, truncateString, type KeyFilter } from './capture';
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
  /**
   * Set by the event pipeline when it dropped the operation's start for want of room (maxQueueSize,
   * an agent that does not yield): its end is dropped too, so that no operation is half in the stream.
   */
  queueDropped?: boolean;
}

export interface RunRecord extends RecordBase {
  readonly kind: 'run';
  purpose: string | undefined;
  /** The enclosing run's id, for a run started inside another run. */
  parentRunId: string | undefined;
  /** The run's labels (its own and those it inherited), when it has any. */
  labels: Readonly<Record<string, string>> | undefined;
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

export type LlmStatus = 'success' | 'denied' | 'error';

export interface LlmRecord extends RecordBase {
  readonly kind: 'llm';
  llmCallId: string;
  provider: string;
  model: string;
  operation: string;
  status: LlmStatus;
  responseModel: string | undefined;
  responseId: string | undefined;
  finishReasons: string[] | undefined;
  inputTokens: number;
  outputTokens: number;
  /** Null when the model has no configured price. */
  costUsd: number | null;
  error: StructuredError | undefined;
}

export type OpRecord = RunRecord | TaskRecord | ToolRecord | HandoffRecord | LlmRecord;
export type OpKind = OpRecord['kind'];

type Attrs = ReadableSpan['attributes'];

export function opKind(a: Attrs): OpKind | undefined {
  // Tool spans in any convention policy/conventions.ts knows (GenAI, OpenInference, OpenLLMetry, AI SDK).
  if (toolConvention(a) !== undefined) return 'tool';
  const operation = a[sc.ATTR_GEN_AI_OPERATION_NAME];
  // Another library's invoke_agent span is not an ALM run; ours always carry the run id.
  if (operation === sc.GEN_AI_OPERATION_NAME_VALUE_INVOKE_AGENT) {
    return a[sc.ATTR_ALM_RUN_ID] !== undefined ? 'run' : undefined;
  }
  if (a[sc.ATTR_ALM_LLM_CALL_ID] !== undefined) return 'llm';
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

/** A non-empty string attribute, bounded like every captured string (another library's spans included). */
function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? truncateString(v) : undefined;
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0;
}

/**
 * Content from a span (JSON text) back to data, redacted, truncated and bounded like alm-otel's own
 * capture: another instrumentation's arguments and results get no less care. Absent stays absent.
 */
function structured(v: unknown, sensitive: KeyFilter): unknown {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') return captureValue(v, sensitive);
  try {
    return captureValue(JSON.parse(v), sensitive);
  } catch {
    return captureValue(v, sensitive);
  }
}

/** Content already parsed by its convention, redacted and bounded; absent stays absent. */
function captured(v: unknown, sensitive: KeyFilter): unknown {
  return v === undefined ? undefined : captureValue(v, sensitive);
}

function errorFromSpan(span: ReadableSpan, defaultSource: StructuredError['source']): StructuredError | undefined {
  const a = span.attributes;
  const failed = span.status.code === SpanStatusCode.ERROR;
  const type = a[sc.ATTR_ERROR_TYPE];
  if (!failed && type === undefined) return undefined;
  const message = truncateString(String(a[sc.ATTR_ALM_ERROR_MESSAGE] ?? span.status.message ?? ''));
  const error = describeError(str(type) ?? 'Error', message, defaultSource);
  const source = a[sc.ATTR_ALM_ERROR_SOURCE];
  if (source === 'tool' || source === 'policy' || source === 'agent' || source === 'system') error.source = source;
  const retryable = a[sc.ATTR_ALM_ERROR_RETRYABLE];
  if (typeof retryable === 'boolean') error.retryable = retryable;
  const code = a[sc.ATTR_ALM_ERROR_CODE];
  if (code !== undefined) error.code = String(code);
  return error;
}

const BUDGETS = ['tool_calls', 'llm_calls', 'tokens', 'cost'] as const;

function budgetExceededFromSpan(a: Attrs): Pick<RunSummary, 'budget_exceeded'> {
  const budget = BUDGETS.find((b) => b === a[sc.ATTR_ALM_RUN_BUDGET_EXCEEDED]);
  if (budget === undefined) return {};
  const model = str(a[sc.ATTR_ALM_RUN_BUDGET_EXCEEDED_MODEL]);
  return {
    budget_exceeded: {
      budget,
      limit: num(a[sc.ATTR_ALM_RUN_BUDGET_EXCEEDED_LIMIT]),
      spent: num(a[sc.ATTR_ALM_RUN_BUDGET_EXCEEDED_SPENT]),
      ...(model === undefined ? {} : { model }),
      flagged_llm_calls: Math.round(num(a[sc.ATTR_ALM_RUN_BUDGET_EXCEEDED_FLAGGED])),
    },
  };
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
    ...(a[sc.ATTR_ALM_RUN_LLM_CALLS] === undefined
      ? {}
      : {
          llm_calls: num(a[sc.ATTR_ALM_RUN_LLM_CALLS]),
          tokens: { input: num(a[sc.ATTR_ALM_RUN_TOKENS_INPUT]), output: num(a[sc.ATTR_ALM_RUN_TOKENS_OUTPUT]) },
          ...(a[sc.ATTR_ALM_RUN_COST_USD] === undefined ? {} : { cost_usd: num(a[sc.ATTR_ALM_RUN_COST_USD]) }),
        }),
    ...budgetExceededFromSpan(a),
  };
}

/**
 * A record from an OTel span: an alm-otel span, or another instrumentation's execute_tool span.
 * The inverse of what src/instrument writes; outcome fields a foreign span lacks come from its status
 * and duration. A span that has not ended yields a record of its start.
 */
export function recordFromSpan(span: ReadableSpan, sensitive: KeyFilter = isSensitiveKey): OpRecord | undefined {
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
        parentRunId: str(a[sc.ATTR_ALM_RUN_PARENT_ID]),
        labels: labelsFromSpan(a),
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
      const convention = toolConvention(a)!;
      const decision = a[sc.ATTR_ALM_POLICY_DECISION];
      // alm-otel marks retries of its own tools; other spans are first attempts, as far as a span can say.
      const attempt = Math.max(1, Math.floor(num(a[sc.ATTR_ALM_TOOL_ATTEMPT])));
      const status = a[sc.ATTR_ALM_TOOL_STATUS];
      return {
        kind,
        ...base,
        // A record only: a span is never decided by policy under this placeholder (policy/foreign.ts).
        toolName: truncateString(toolNameOf(convention, a) ?? 'unknown'),
        // Foreign tool spans may carry no call id; their span id is stable across start and end.
        toolCallId: truncateString(toolCallIdOf(convention, a) ?? spanId ?? 'unknown'),
        args: captured(toolArgsOf(convention, a), sensitive),
        attempt,
        retries: attempt - 1,
        decision: decision === 'allow' || decision === 'deny' ? decision : undefined,
        reason: str(a[sc.ATTR_ALM_POLICY_REASON]),
        policyMs: num(a[sc.ATTR_ALM_POLICY_LATENCY_MS]),
        status:
          status === 'success' || status === 'denied' || status === 'error' ? status : failed ? 'error' : 'success',
        // Spans keep latencies off; the span's duration is the tool's time (a denied body never ran).
        toolMs: status === 'denied' ? 0 : Math.max(0, endTime - startTime),
        result: captured(toolResultOf(convention, a), sensitive),
        error: errorFromSpan(span, status === 'denied' ? 'policy' : 'tool'),
      };
    }
    case 'handoff':
      return {
        kind,
        ...base,
        fromAgentId: str(a[sc.ATTR_GEN_AI_AGENT_ID]) ?? 'unknown',
        toAgentId: truncateString(String(a[sc.ATTR_ALM_HANDOFF_TO_AGENT_ID])),
        reason: str(a[sc.ATTR_ALM_HANDOFF_REASON]),
        context: structured(a[sc.ATTR_ALM_HANDOFF_CONTEXT], sensitive),
      };
    case 'llm': {
      const status = a[sc.ATTR_ALM_LLM_STATUS];
      const reasons = a[sc.ATTR_GEN_AI_RESPONSE_FINISH_REASONS];
      const cost = a[sc.ATTR_ALM_LLM_COST_USD];
      return {
        kind,
        ...base,
        llmCallId: String(a[sc.ATTR_ALM_LLM_CALL_ID]),
        provider: str(a[sc.ATTR_GEN_AI_PROVIDER_NAME]) ?? 'unknown',
        model: str(a[sc.ATTR_GEN_AI_REQUEST_MODEL]) ?? 'unknown',
        operation: str(a[sc.ATTR_GEN_AI_OPERATION_NAME]) ?? 'chat',
        status:
          status === 'success' || status === 'denied' || status === 'error' ? status : failed ? 'error' : 'success',
        responseModel: str(a[sc.ATTR_GEN_AI_RESPONSE_MODEL]),
        responseId: str(a[sc.ATTR_GEN_AI_RESPONSE_ID]),
        finishReasons: Array.isArray(reasons) ? reasons.map((r) => truncateString(String(r))) : undefined,
        inputTokens: num(a[sc.ATTR_GEN_AI_USAGE_INPUT_TOKENS]),
        outputTokens: num(a[sc.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS]),
        costUsd: typeof cost === 'number' ? cost : null,
        error: errorFromSpan(span, status === 'denied' ? 'policy' : 'system'),
      };
    }
  }
}

/** A run span's labels (`alm.label.<name>` attributes), or undefined when it has none. */
function labelsFromSpan(a: Attributes): Record<string, string> | undefined {
  let labels: Record<string, string> | undefined;
  for (const key of Object.keys(a)) {
    if (!key.startsWith(sc.ATTR_ALM_LABEL_PREFIX)) continue;
    const value = a[key];
    if (typeof value !== 'string') continue;
    (labels ??= {})[key.slice(sc.ATTR_ALM_LABEL_PREFIX.length)] = value;
  }
  return labels;
}
