/**
 * The one translation from span data (OpRecord) to ALM events. Start events (run.start, task.start,
 * tool.request, policy.decision, handoff) come from a record as soon as the operation begins; end
 * events (run.end, task.end, tool.response) once it has ended.
 */
import { randomUUID } from 'node:crypto';
import * as sc from '../semconv';
import { SCHEMA_VERSION, SDK_VERSION } from '../version';
import { isPlainObject } from './capture';
import type { ErrorSource } from './errors';
import { opKind, type OpRecord } from './record';
import type { ALMEvent, RunSummary, StructuredErrorShape, ToolArgs } from './schema';

/** The per-agent fields every event carries. */
export interface Envelope {
  agentId: string;
  env: string;
  agentVersion: string | null;
  policyVersion: string | null;
}

type EventOf<T extends ALMEvent['event_type']> = Extract<ALMEvent, { event_type: T }>;

function envelopeEvent<T extends ALMEvent['event_type']>(
  rec: OpRecord,
  env: Envelope,
  eventType: T,
  time: number,
  metadata: EventOf<T>['metadata'],
): EventOf<T> {
  const runId = rec.attributes[sc.ATTR_ALM_RUN_ID];
  // Key order follows the reference SDK's serialisation; trace_id/span_id are additive.
  return {
    event_id: randomUUID(),
    timestamp: new Date(time).toISOString(),
    event_type: eventType,
    agent_id: env.agentId,
    env: env.env,
    run_id: typeof runId === 'string' ? runId : null,
    metadata,
    schema_version: SCHEMA_VERSION,
    sdk_version: SDK_VERSION,
    agent_version: env.agentVersion,
    policy_version: env.policyVersion,
    trace_id: rec.traceId,
    span_id: rec.spanId,
  } as EventOf<T>;
}

/** Milliseconds rounded to the microsecond, never negative. */
function ms(value: unknown): number {
  return typeof value === 'number' && value > 0 ? Math.round(value * 1000) / 1000 : 0;
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : 0;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function errorOf(a: Record<string, unknown>, defaultSource: ErrorSource): StructuredErrorShape | undefined {
  const type = a[sc.ATTR_ERROR_TYPE];
  if (type === undefined) return undefined;
  const source = a[sc.ATTR_ALM_ERROR_SOURCE];
  const error: StructuredErrorShape = {
    type: String(type),
    message: String(a[sc.ATTR_ALM_ERROR_MESSAGE] ?? ''),
    source:
      source === 'tool' || source === 'policy' || source === 'agent' || source === 'system' ? source : defaultSource,
    retryable: a[sc.ATTR_ALM_ERROR_RETRYABLE] === true,
  };
  const code = a[sc.ATTR_ALM_ERROR_CODE];
  if (code !== undefined) error.code = String(code);
  return error;
}

/** Tool arguments in the schema's shape: a plain object is `{inputs}`, a list `{args}`. */
function toolArgs(value: unknown): ToolArgs {
  if (value === undefined) return { args: [] };
  if (isPlainObject(value)) return { inputs: value };
  return { args: Array.isArray(value) ? value : [value] };
}

function toolIdentity(rec: OpRecord) {
  const a = rec.attributes;
  return {
    tool_name: String(a[sc.ATTR_GEN_AI_TOOL_NAME] ?? 'unknown'),
    // Foreign tool spans may carry no call id; their span id is stable across start and end.
    tool_call_id: String(a[sc.ATTR_GEN_AI_TOOL_CALL_ID] ?? rec.spanId ?? 'unknown'),
  };
}

function attemptOf(a: Record<string, unknown>): number {
  return Math.max(1, count(a[sc.ATTR_ALM_TOOL_ATTEMPT]));
}

function runSummary(rec: OpRecord): RunSummary {
  const a = rec.attributes;
  return {
    tool_calls: {
      total: count(a[sc.ATTR_ALM_RUN_TOOL_CALLS_TOTAL]),
      allowed: count(a[sc.ATTR_ALM_RUN_TOOL_CALLS_ALLOWED]),
      denied: count(a[sc.ATTR_ALM_RUN_TOOL_CALLS_DENIED]),
      error: count(a[sc.ATTR_ALM_RUN_TOOL_CALLS_ERROR]),
      retried: count(a[sc.ATTR_ALM_RUN_TOOL_CALLS_RETRIED]),
    },
    latencies: {
      avg_tool_ms: ms(a[sc.ATTR_ALM_RUN_LATENCY_AVG_TOOL_MS]),
      avg_policy_ms: ms(a[sc.ATTR_ALM_RUN_LATENCY_AVG_POLICY_MS]),
      total_run_ms: ms(a[sc.ATTR_ALM_RUN_LATENCY_TOTAL_MS] ?? rec.endTime - rec.startTime),
    },
    tasks: { completed: count(a[sc.ATTR_ALM_RUN_TASKS_COMPLETED]), failed: count(a[sc.ATTR_ALM_RUN_TASKS_FAILED]) },
    handoffs: count(a[sc.ATTR_ALM_RUN_HANDOFFS]),
  };
}

/** Events that describe the start of an operation. Appends to `out`. */
export function startEvents(rec: OpRecord, env: Envelope, out: ALMEvent[]): void {
  const a = rec.attributes;
  switch (opKind(a)) {
    case 'run': {
      const purpose = text(a[sc.ATTR_ALM_RUN_PURPOSE]);
      out.push(envelopeEvent(rec, env, 'run.start', rec.startTime, purpose === undefined ? {} : { purpose }));
      return;
    }
    case 'task': {
      const metadata: EventOf<'task.start'>['metadata'] = { task_id: String(a[sc.ATTR_ALM_TASK_ID]) };
      const taskType = text(a[sc.ATTR_ALM_TASK_TYPE]);
      const description = text(a[sc.ATTR_ALM_TASK_DESCRIPTION]);
      if (taskType !== undefined) metadata.task_type = taskType;
      if (description !== undefined) metadata.description = description;
      out.push(envelopeEvent(rec, env, 'task.start', rec.startTime, metadata));
      return;
    }
    case 'tool': {
      const identity = toolIdentity(rec);
      const attempt = attemptOf(a);
      out.push(
        envelopeEvent(rec, env, 'tool.request', rec.startTime, {
          ...identity,
          args: toolArgs(a[sc.ATTR_GEN_AI_TOOL_CALL_ARGUMENTS]),
          attempt,
        }),
      );
      const decision = a[sc.ATTR_ALM_POLICY_DECISION];
      if (decision === 'allow' || decision === 'deny') {
        const latency = ms(a[sc.ATTR_ALM_POLICY_LATENCY_MS]);
        out.push(
          envelopeEvent(rec, env, 'policy.decision', rec.startTime + latency, {
            ...identity,
            decision,
            reason: text(a[sc.ATTR_ALM_POLICY_REASON]) ?? decision,
            latency_ms: latency,
            attempt,
          }),
        );
      }
      return;
    }
    case 'handoff': {
      const metadata: EventOf<'handoff'>['metadata'] = {
        from_agent_id: String(a[sc.ATTR_GEN_AI_AGENT_ID] ?? env.agentId),
        to_agent_id: String(a[sc.ATTR_ALM_HANDOFF_TO_AGENT_ID]),
      };
      const reason = text(a[sc.ATTR_ALM_HANDOFF_REASON]);
      const context = a[sc.ATTR_ALM_HANDOFF_CONTEXT];
      if (reason !== undefined) metadata.reason = reason;
      // As the reference: an empty context is left out.
      if (isPlainObject(context) && Object.keys(context).length > 0) metadata.context = context;
      out.push(envelopeEvent(rec, env, 'handoff', rec.startTime, metadata));
      return;
    }
    default:
      return;
  }
}

/** Events that describe the end of an operation. Appends to `out`. */
export function endEvents(rec: OpRecord, env: Envelope, out: ALMEvent[]): void {
  const a = rec.attributes;
  switch (opKind(a)) {
    case 'run': {
      const success = a[sc.ATTR_ALM_RUN_SUCCESS] !== false;
      const metadata: EventOf<'run.end'>['metadata'] = { success, summary: runSummary(rec) };
      const error = success ? undefined : errorOf(a, 'agent');
      if (error !== undefined) metadata.error = error;
      out.push(envelopeEvent(rec, env, 'run.end', rec.endTime, metadata));
      return;
    }
    case 'task': {
      const success = a[sc.ATTR_ALM_TASK_SUCCESS] !== false;
      const metadata: EventOf<'task.end'>['metadata'] = { task_id: String(a[sc.ATTR_ALM_TASK_ID]), success };
      const error = success ? undefined : errorOf(a, 'agent');
      if (error !== undefined) metadata.error = error;
      out.push(envelopeEvent(rec, env, 'task.end', rec.endTime, metadata));
      return;
    }
    case 'tool': {
      const rawStatus = a[sc.ATTR_ALM_TOOL_STATUS];
      const status = rawStatus === 'denied' || rawStatus === 'error' ? rawStatus : 'success';
      const metadata: EventOf<'tool.response'>['metadata'] = {
        ...toolIdentity(rec),
        status,
        policy_latency_ms: ms(a[sc.ATTR_ALM_POLICY_LATENCY_MS]),
        tool_latency_ms: ms(a[sc.ATTR_ALM_TOOL_LATENCY_MS]),
        total_latency_ms: ms(rec.endTime - rec.startTime),
        attempt: attemptOf(a),
        retries: count(a[sc.ATTR_ALM_TOOL_RETRIES]),
      };
      if (status !== 'success') {
        metadata.error = errorOf(a, status === 'denied' ? 'policy' : 'tool') ?? {
          type: 'Error',
          message: '',
          source: 'tool',
          retryable: false,
        };
      } else {
        const result = a[sc.ATTR_GEN_AI_TOOL_CALL_RESULT];
        if (result !== undefined && result !== null) metadata.result = result;
      }
      out.push(envelopeEvent(rec, env, 'tool.response', rec.endTime, metadata));
      return;
    }
    default:
      return;
  }
}
