/**
 * An ALM event as an OpenTelemetry log record, and back.
 *
 * - Event name: `alm.` + the event type (`alm.run.start`, `alm.policy.decision`, …): the ALM event
 *   types are short and generic (`run.start`), so they are namespaced as the GenAI events are
 *   (`gen_ai.client.inference.operation.details`).
 * - Time: the event's `timestamp`; trace and span ids: the event's `trace_id` / `span_id`, so a
 *   backend correlates each record with the span it describes (a `policy.decision` record with its
 *   tool span).
 * - Body: the event's JSON text, exactly as the other sinks send it. It rebuilds the event field for
 *   field (`JSON.parse`), whatever its numbers (an OTLP AnyValue would turn 1e300 into an int64).
 * - Attributes: the fields a backend filters on, as attributes (`alm.event_id`, `alm.run.id`,
 *   `gen_ai.agent.id`, `alm.env`, and for tool events `gen_ai.tool.name`, `gen_ai.tool.call.id`,
 *   `alm.policy.decision`), so that queries need not parse the body.
 * - Severity: INFO, WARN for a denied call, ERROR for a failed run or tool call.
 */
import type { ALMEvent } from './schema';
import * as sc from '../semconv';

/** The prefix of every ALM event record's event name. */
export const EVENT_NAME_PREFIX = 'alm.';

// OpenTelemetry log severity numbers (logs data model).
const INFO = 9;
const WARN = 13;
const ERROR = 17;

/** The parts of a log record alm-otel sets: the shape of sdk-logs' ReadableLogRecord minus resource and scope. */
export interface EventLogRecord {
  readonly hrTime: [number, number];
  readonly hrTimeObserved: [number, number];
  readonly spanContext?: { traceId: string; spanId: string; traceFlags: number };
  readonly severityNumber: number;
  readonly severityText: string;
  readonly body: string;
  readonly eventName: string;
  readonly attributes: Record<string, string>;
  readonly droppedAttributesCount: 0;
}

function hrTimeOf(timestamp: string): [number, number] {
  const ms = Date.parse(timestamp);
  if (!Number.isFinite(ms)) return [0, 0];
  const seconds = Math.floor(ms / 1000);
  return [seconds, (ms - seconds * 1000) * 1e6];
}

function severityOf(event: ALMEvent): number {
  switch (event.event_type) {
    case 'policy.decision':
      return event.metadata.decision === 'deny' ? WARN : INFO;
    case 'tool.response':
    case 'llm.response':
      return event.metadata.status === 'error' ? ERROR : event.metadata.status === 'denied' ? WARN : INFO;
    case 'run.end':
      return event.metadata.success ? INFO : ERROR;
    default:
      return INFO;
  }
}

const SEVERITY_TEXT: Record<number, string> = { [INFO]: 'INFO', [WARN]: 'WARN', [ERROR]: 'ERROR' };

function attributesOf(event: ALMEvent): Record<string, string> {
  const attributes: Record<string, string> = {
    'alm.event_id': event.event_id,
    [sc.ATTR_GEN_AI_AGENT_ID]: event.agent_id,
    [sc.ATTR_ALM_ENV]: event.env,
  };
  if (event.run_id !== null) attributes[sc.ATTR_ALM_RUN_ID] = event.run_id;
  const metadata = event.metadata as { tool_name?: unknown; tool_call_id?: unknown; decision?: unknown };
  if (typeof metadata.tool_name === 'string') attributes[sc.ATTR_GEN_AI_TOOL_NAME] = metadata.tool_name;
  if (typeof metadata.tool_call_id === 'string') attributes[sc.ATTR_GEN_AI_TOOL_CALL_ID] = metadata.tool_call_id;
  if (typeof metadata.decision === 'string') attributes[sc.ATTR_ALM_POLICY_DECISION] = metadata.decision;
  return attributes;
}

/** The log record for one event; `json` is the event's JSON text (delivery has it already). */
export function eventLogRecord(event: ALMEvent, json: string): EventLogRecord {
  const time = hrTimeOf(event.timestamp);
  const severity = severityOf(event);
  const record: {
    -readonly [K in keyof EventLogRecord]: EventLogRecord[K];
  } = {
    hrTime: time,
    hrTimeObserved: time,
    severityNumber: severity,
    severityText: SEVERITY_TEXT[severity]!,
    body: json,
    eventName: EVENT_NAME_PREFIX + event.event_type,
    attributes: attributesOf(event),
    droppedAttributesCount: 0,
  };
  if (event.trace_id !== null && event.span_id !== null) {
    // The event does not say whether its span was sampled; an id is only set for a recording span.
    record.spanContext = { traceId: event.trace_id, spanId: event.span_id, traceFlags: 1 };
  }
  return record;
}

/** An OTLP/JSON AnyValue holding a string, as the JSON encoding writes it. */
interface JsonAnyValue {
  stringValue?: unknown;
}

/** An OTLP/JSON log record, as far as rebuilding an event reads it. */
export interface JsonLogRecord {
  eventName?: unknown;
  body?: JsonAnyValue | null;
}

/**
 * The ALM event an OTLP/JSON log record carries, or undefined when the record is not an ALM event
 * (another application log in the same pipeline). Throws a SyntaxError when an ALM event record's
 * body is not the event's JSON.
 */
export function eventFromLogRecord(record: JsonLogRecord): unknown {
  if (typeof record.eventName !== 'string' || !record.eventName.startsWith(EVENT_NAME_PREFIX)) return undefined;
  const text = record.body?.stringValue;
  if (typeof text !== 'string') throw new SyntaxError(`${record.eventName}: the record's body is not an event's JSON`);
  return JSON.parse(text);
}
