/**
 * The one translation from span data (OpRecord) to ALM events. Start events (run.start, task.start,
 * tool.request, policy.decision, handoff) come from a record as soon as the operation begins; end
 * events (run.end, task.end, tool.response) once it has ended.
 */
import { newId } from '../ids';
import { SCHEMA_VERSION, SDK_VERSION } from '../version';
import { isGiven, isPlainObject } from './capture';
import type { LlmRecord, OpRecord } from './record';
import type { ALMEvent, ToolArgs } from './schema';

/** The per-agent fields every event carries. */
export interface Envelope {
  agentId: string;
  env: string;
  agentVersion: string | null;
  policyVersion: string | null;
}

/**
 * RFC 3339 UTC with milliseconds, as the reference prints it. Date#toISOString costs close to a
 * microsecond; events come in bursts within the same second, so the second's prefix is cached.
 */
let cachedSecond = NaN;
let cachedPrefix = '';
// And the last millisecond's whole string: a tool call's events, and a busy agent's calls, share it.
let cachedMs = NaN;
let cachedStamp = '';
export function isoTimestamp(epochMs: number): string {
  const whole = Math.floor(epochMs);
  if (whole === cachedMs) return cachedStamp;
  const second = Math.floor(whole / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedPrefix = new Date(second * 1000).toISOString().slice(0, 20);
  }
  const millis = whole - second * 1000;
  cachedMs = whole;
  cachedStamp = cachedPrefix + (millis < 10 ? '00' : millis < 100 ? '0' : '') + millis + 'Z';
  return cachedStamp;
}

type EventOf<T extends ALMEvent['event_type']> = Extract<ALMEvent, { event_type: T }>;

function envelopeEvent<T extends ALMEvent['event_type']>(
  rec: OpRecord,
  env: Envelope,
  eventType: T,
  time: number,
  metadata: EventOf<T>['metadata'],
): EventOf<T> {
  // Key order follows the reference SDK's serialisation; trace_id/span_id are additive.
  const event = {
    event_id: newId(),
    timestamp: isoTimestamp(time),
    event_type: eventType,
    agent_id: env.agentId,
    env: env.env,
    run_id: rec.runId,
    metadata,
    schema_version: SCHEMA_VERSION,
    sdk_version: SDK_VERSION,
    agent_version: env.agentVersion,
    policy_version: env.policyVersion,
    trace_id: rec.traceId,
    span_id: rec.spanId,
  } as EventOf<T>;
  return event;
}

/** The envelope's fields as JSON, for the last agent seen (one per ALM instance; rarely more). */
let envelopeJson = {
  agentId: '',
  env: '',
  agentVersion: null as unknown,
  policyVersion: null as unknown,
  head: '',
  tail: '',
};

function envelopeJsonOf(e: ALMEvent): typeof envelopeJson {
  const c = envelopeJson;
  if (
    c.agentId === e.agent_id &&
    c.env === e.env &&
    c.agentVersion === e.agent_version &&
    c.policyVersion === e.policy_version
  ) {
    return c;
  }
  envelopeJson = {
    agentId: e.agent_id,
    env: e.env,
    agentVersion: e.agent_version,
    policyVersion: e.policy_version,
    head: `,"agent_id":${JSON.stringify(e.agent_id)},"env":${JSON.stringify(e.env)},"run_id":`,
    tail:
      `,"schema_version":${JSON.stringify(SCHEMA_VERSION)},"sdk_version":${JSON.stringify(SDK_VERSION)}` +
      `,"agent_version":${JSON.stringify(e.agent_version)},"policy_version":${JSON.stringify(e.policy_version)}`,
  };
  return envelopeJson;
}

/**
 * An event built here (startEvents, endEvents) as JSON: exactly `JSON.stringify(event)`, byte for
 * byte. Its top-level fields are set once, by envelopeEvent, and never changed (sinks see events after
 * they are serialised), so the envelope (agent, env, versions) is written from JSON made once per agent
 * and the ids and timestamp as they are (a UUID, an RFC 3339 time, a type name: nothing to escape);
 * only the metadata, the run id and the trace ids go through JSON.stringify. Every event the pipeline
 * hands to delivery was built here (replayed ones come with their lines), so no other object reaches it.
 */
export function serializeEvent(event: ALMEvent): string {
  const e = event as ALMEvent & { run_id: unknown; trace_id?: unknown; span_id?: unknown };
  const c = envelopeJsonOf(e);
  let json =
    `{"event_id":"${e.event_id}","timestamp":"${e.timestamp}","event_type":"${e.event_type}"` +
    c.head +
    runIdJson(e.run_id) +
    ',"metadata":' +
    JSON.stringify(e.metadata) +
    c.tail;
  const traceId = e.trace_id;
  if (traceId !== undefined) json += traceId === null ? ',"trace_id":null' : ',"trace_id":' + JSON.stringify(traceId);
  const spanId = e.span_id;
  if (spanId !== undefined) json += spanId === null ? ',"span_id":null}' : ',"span_id":' + JSON.stringify(spanId) + '}';
  else json += '}';
  return json;
}

/** A run's events come together: the last run id's JSON is kept. */
let lastRunId: string | null = null;
let lastRunIdJson = 'null';
function runIdJson(runId: string | null): string {
  if (runId !== lastRunId) {
    lastRunId = runId;
    lastRunIdJson = runId === null ? 'null' : JSON.stringify(runId);
  }
  return lastRunIdJson;
}

/** Milliseconds rounded to the microsecond, never negative. */
function ms(value: number): number {
  return value > 0 ? Math.round(value * 1000) / 1000 : 0;
}

/** Tool arguments in the schema's shape: a plain object is `{inputs}`, a list `{args}`. */
function toolArgs(value: unknown): ToolArgs {
  if (value === undefined) return { args: [] };
  if (isPlainObject(value)) return { inputs: value };
  return { args: Array.isArray(value) ? value : [value] };
}

/** How many events startEvents (`start`) and endEvents (`end`) make of `rec`, without making them. */
export function eventCount(rec: OpRecord, start: boolean, end: boolean): number {
  switch (rec.kind) {
    case 'tool':
      return (start ? (rec.decision === undefined ? 1 : 2) : 0) + (end ? 1 : 0);
    case 'handoff':
      return start ? 1 : 0;
    default:
      return (start ? 1 : 0) + (end ? 1 : 0);
  }
}

/** Events that describe the start of an operation. Appends to `out`. */
export function startEvents(rec: OpRecord, env: Envelope, out: ALMEvent[]): void {
  switch (rec.kind) {
    case 'run': {
      // As the reference, an empty purpose is left out; parent_run_id and labels are additive, only
      // for child runs and runs with labels.
      const metadata: EventOf<'run.start'>['metadata'] = {};
      if (rec.purpose) metadata.purpose = rec.purpose;
      if (rec.parentRunId !== undefined) metadata.parent_run_id = rec.parentRunId;
      if (rec.labels !== undefined) metadata.labels = { ...rec.labels };
      out.push(envelopeEvent(rec, env, 'run.start', rec.startTime, metadata));
      return;
    }
    case 'task': {
      const metadata: EventOf<'task.start'>['metadata'] = { task_id: rec.taskId };
      if (rec.taskType) metadata.task_type = rec.taskType;
      if (rec.description) metadata.description = rec.description;
      out.push(envelopeEvent(rec, env, 'task.start', rec.startTime, metadata));
      return;
    }
    case 'tool': {
      out.push(
        envelopeEvent(rec, env, 'tool.request', rec.startTime, {
          tool_name: rec.toolName,
          tool_call_id: rec.toolCallId,
          args: toolArgs(rec.args),
          attempt: rec.attempt,
        }),
      );
      if (rec.decision !== undefined) {
        const latency = ms(rec.policyMs);
        out.push(
          envelopeEvent(rec, env, 'policy.decision', rec.startTime + latency, {
            tool_name: rec.toolName,
            tool_call_id: rec.toolCallId,
            decision: rec.decision,
            // Allow reasons stay off spans; 'allowed' is the reference's only allow reason.
            reason: rec.reason ?? (rec.decision === 'allow' ? 'allowed' : 'denied'),
            latency_ms: latency,
            attempt: rec.attempt,
          }),
        );
      }
      return;
    }
    case 'handoff': {
      const metadata: EventOf<'handoff'>['metadata'] = { from_agent_id: rec.fromAgentId, to_agent_id: rec.toAgentId };
      if (rec.reason) metadata.reason = rec.reason;
      // As the reference (`if context:`): an empty or null context is left out; anything else is kept.
      if (isGiven(rec.context)) metadata.context = rec.context;
      out.push(envelopeEvent(rec, env, 'handoff', rec.startTime, metadata));
      return;
    }
    case 'llm':
      out.push(envelopeEvent(rec, env, 'llm.request', rec.startTime, llmIdentity(rec)));
      return;
  }
}

function llmIdentity(rec: LlmRecord): EventOf<'llm.request'>['metadata'] {
  return { llm_call_id: rec.llmCallId, provider: rec.provider, model: rec.model, operation: rec.operation };
}

/** Events that describe the end of an operation. Appends to `out`. */
export function endEvents(rec: OpRecord, env: Envelope, out: ALMEvent[]): void {
  switch (rec.kind) {
    case 'run': {
      const summary = rec.summary;
      const latencies = summary?.latencies;
      const metadata: EventOf<'run.end'>['metadata'] = {
        success: rec.success,
        summary: {
          tool_calls: summary?.tool_calls ?? { total: 0, allowed: 0, denied: 0, error: 0, retried: 0 },
          latencies: {
            avg_tool_ms: ms(latencies?.avg_tool_ms ?? 0),
            avg_policy_ms: ms(latencies?.avg_policy_ms ?? 0),
            total_run_ms: ms(latencies?.total_run_ms || rec.endTime - rec.startTime),
          },
          tasks: summary?.tasks ?? { completed: 0, failed: 0 },
          handoffs: summary?.handoffs ?? 0,
        },
      };
      // Additive model-call figures, present only in runs that made model calls.
      if (summary?.llm_calls !== undefined) {
        metadata.summary.llm_calls = summary.llm_calls;
        metadata.summary.tokens = summary.tokens ?? { input: 0, output: 0 };
        if (summary.cost_usd !== undefined) metadata.summary.cost_usd = summary.cost_usd;
      }
      // Additive, present only in runs that passed a model budget.
      if (summary?.budget_exceeded !== undefined) metadata.summary.budget_exceeded = summary.budget_exceeded;
      if (!rec.success && rec.error !== undefined) metadata.error = rec.error;
      out.push(envelopeEvent(rec, env, 'run.end', rec.endTime, metadata));
      return;
    }
    case 'task': {
      const metadata: EventOf<'task.end'>['metadata'] = { task_id: rec.taskId, success: rec.success };
      if (!rec.success && rec.error !== undefined) metadata.error = rec.error;
      out.push(envelopeEvent(rec, env, 'task.end', rec.endTime, metadata));
      return;
    }
    case 'tool': {
      const metadata: EventOf<'tool.response'>['metadata'] = {
        tool_name: rec.toolName,
        tool_call_id: rec.toolCallId,
        status: rec.status,
        policy_latency_ms: ms(rec.policyMs),
        tool_latency_ms: ms(rec.toolMs),
        total_latency_ms: ms(rec.endTime - rec.startTime),
        attempt: rec.attempt,
        retries: rec.retries,
      };
      if (rec.status !== 'success') {
        metadata.error = rec.error ?? { type: 'Error', message: '', source: 'tool', retryable: false };
      } else if (rec.result !== undefined && rec.result !== null) {
        metadata.result = rec.result;
      }
      out.push(envelopeEvent(rec, env, 'tool.response', rec.endTime, metadata));
      return;
    }
    case 'handoff':
      return;
    case 'llm': {
      const metadata: EventOf<'llm.response'>['metadata'] = {
        ...llmIdentity(rec),
        status: rec.status,
        ...(rec.responseModel === undefined ? {} : { response_model: rec.responseModel }),
        ...(rec.responseId === undefined ? {} : { response_id: rec.responseId }),
        ...(rec.finishReasons === undefined ? {} : { finish_reasons: rec.finishReasons }),
        input_tokens: rec.inputTokens,
        output_tokens: rec.outputTokens,
        cost_usd: rec.costUsd,
        latency_ms: ms(rec.endTime - rec.startTime),
      };
      if (rec.status !== 'success') {
        metadata.error = rec.error ?? { type: 'Error', message: '', source: 'system', retryable: false };
      }
      out.push(envelopeEvent(rec, env, 'llm.response', rec.endTime, metadata));
      return;
    }
  }
}
