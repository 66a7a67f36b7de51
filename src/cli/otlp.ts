/**
 * OTLP/JSON traces (the collector's `file` exporter writes one `{"resourceSpans": [...]}` document per
 * line; a single, possibly pretty-printed document is read too, and so is Jaeger's api/v3 answer,
 * which wraps one in `{"result": ...}`) into ALM events, through the very
 * translation ALMEventExporter uses: each OTLP span is adapted into the ReadableSpan shape that
 * `recordFromSpan` reads, and the record goes through `startEvents` / `endEvents`.
 */
import { SpanStatusCode, type AttributeValue, type Attributes } from '@opentelemetry/api';
import type { ReadableSpan } from '../otel-types';
import type { ALMEvent } from '../events/schema';
import { recordFromSpan } from '../events/record';
import { endEvents, startEvents, type Envelope } from '../events/translate';
import * as sc from '../semconv';

/** Input that is not OTLP/JSON; `where` names the line and the field. */
export class OtlpFormatError extends Error {
  override name = 'OtlpFormatError';
  constructor(
    readonly where: string,
    readonly problem: string,
  ) {
    super(`${where}: ${problem}`);
  }
}

/** The part of ReadableSpan that recordFromSpan reads. */
type SpanShape = Pick<ReadableSpan, 'attributes' | 'spanContext' | 'startTime' | 'endTime' | 'ended' | 'status'>;

export interface OtlpSpan {
  span: SpanShape;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  resource: Attributes;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function list(v: unknown, where: string, field: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new OtlpFormatError(`${where}.${field}`, 'expected an array');
  return v;
}

/** Trace and span ids: hex as OTLP/JSON specifies, or base64 as a generic protobuf-JSON encoder writes them. */
function id(v: unknown, bytes: number, where: string): string {
  if (typeof v === 'string') {
    if (new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`).test(v)) return v.toLowerCase();
    const decoded = /^[A-Za-z0-9+/_-]+={0,2}$/.test(v) ? Buffer.from(v, 'base64') : undefined;
    if (decoded?.length === bytes) return decoded.toString('hex');
  }
  throw new OtlpFormatError(where, `expected ${bytes * 2} hex characters, got ${JSON.stringify(v)}`);
}

/** Nanoseconds since the epoch (an int64: a decimal string in OTLP/JSON, or a number) as [seconds, nanos]. */
function hrTime(v: unknown, where: string): [number, number] {
  let nanos: bigint | undefined;
  if (typeof v === 'string' && /^\d+$/.test(v)) nanos = BigInt(v);
  else if (typeof v === 'number' && Number.isInteger(v) && v >= 0) nanos = BigInt(v);
  if (nanos === undefined) {
    throw new OtlpFormatError(where, `expected nanoseconds since the epoch, got ${JSON.stringify(v)}`);
  }
  return [Number(nanos / 1_000_000_000n), Number(nanos % 1_000_000_000n)];
}

/**
 * How deep an attribute value may nest (arrays and key-value lists): OpenTelemetry span attributes
 * are flat, and a deeper value is hostile input (it would exhaust the stack, and its path the memory).
 */
export const MAX_VALUE_DEPTH = 32;

function anyValue(v: unknown, where: string, depth = 0): AttributeValue | undefined {
  if (depth > MAX_VALUE_DEPTH) {
    throw new OtlpFormatError(where, `attribute value nested deeper than ${MAX_VALUE_DEPTH} levels`);
  }
  if (!isObject(v)) throw new OtlpFormatError(where, 'expected an AnyValue object ({stringValue: …} and the like)');
  if ('stringValue' in v) return String(v.stringValue);
  if ('boolValue' in v) return v.boolValue === true || v.boolValue === 'true';
  if ('intValue' in v) {
    const n = Number(v.intValue);
    if (!Number.isFinite(n))
      throw new OtlpFormatError(`${where}.intValue`, `expected an integer, got ${JSON.stringify(v.intValue)}`);
    return n;
  }
  if ('doubleValue' in v) {
    const n = Number(v.doubleValue); // protobuf JSON may write "NaN" / "Infinity" as strings
    if (Number.isNaN(n) && v.doubleValue !== 'NaN') {
      throw new OtlpFormatError(`${where}.doubleValue`, `expected a number, got ${JSON.stringify(v.doubleValue)}`);
    }
    return n;
  }
  if ('arrayValue' in v) {
    const values = isObject(v.arrayValue) ? list(v.arrayValue.values, `${where}.arrayValue`, 'values') : [];
    const items = values.map((item, i) => anyValue(item, `${where}.arrayValue.values[${i}]`, depth + 1));
    return items.filter((item) => item === undefined || !Array.isArray(item)) as AttributeValue;
  }
  if ('bytesValue' in v) return String(v.bytesValue);
  if ('kvlistValue' in v) {
    const values = isObject(v.kvlistValue) ? list(v.kvlistValue.values, `${where}.kvlistValue`, 'values') : [];
    return JSON.stringify(attributes(values, `${where}.kvlistValue.values`, depth + 1));
  }
  return undefined; // an empty AnyValue
}

function attributes(kvs: unknown[], where: string, depth = 0): Attributes {
  const out: Attributes = {};
  kvs.forEach((kv, i) => {
    const at = `${where}[${i}]`;
    if (!isObject(kv) || typeof kv.key !== 'string') throw new OtlpFormatError(at, 'expected {key, value}');
    const value = kv.value === undefined ? undefined : anyValue(kv.value, `${at}.value`, depth);
    if (value !== undefined) out[kv.key] = value;
  });
  return out;
}

function statusCode(v: unknown): SpanStatusCode {
  if (v === 2 || v === 'STATUS_CODE_ERROR') return SpanStatusCode.ERROR;
  if (v === 1 || v === 'STATUS_CODE_OK') return SpanStatusCode.OK;
  return SpanStatusCode.UNSET;
}

/** One OTLP span, as the ReadableSpan-like object recordFromSpan reads. */
function adaptSpan(s: unknown, where: string, resource: Attributes): OtlpSpan {
  if (!isObject(s)) throw new OtlpFormatError(where, 'expected a span object');
  const traceId = id(s.traceId, 16, `${where}.traceId`);
  const spanId = id(s.spanId, 8, `${where}.spanId`);
  const startTime = hrTime(s.startTimeUnixNano, `${where}.startTimeUnixNano`);
  const ended = s.endTimeUnixNano !== undefined && s.endTimeUnixNano !== '0' && s.endTimeUnixNano !== 0;
  const endTime = ended ? hrTime(s.endTimeUnixNano, `${where}.endTimeUnixNano`) : ([0, 0] as [number, number]);
  const status = isObject(s.status) ? s.status : {};
  const ctx = { traceId, spanId, traceFlags: 1 };
  const parent =
    s.parentSpanId === undefined || s.parentSpanId === '' ? undefined : id(s.parentSpanId, 8, `${where}.parentSpanId`);
  return {
    traceId,
    spanId,
    parentSpanId: parent,
    resource,
    span: {
      attributes: attributes(list(s.attributes, where, 'attributes'), `${where}.attributes`),
      spanContext: () => ctx,
      startTime,
      endTime,
      ended,
      status: {
        code: statusCode(status.code),
        message: typeof status.message === 'string' && status.message !== '' ? status.message : undefined,
      },
    },
  };
}

/** Every span of one OTLP/JSON document (`{"resourceSpans": [...]}`). */
export function spansOf(doc: unknown, where: string): OtlpSpan[] {
  // Jaeger's query API (GET /api/v3/traces/{id}) wraps the same document: {"result": {"resourceSpans": [...]}}.
  if (isObject(doc) && doc.resourceSpans === undefined && isObject(doc.result)) doc = doc.result;
  if (!isObject(doc) || !Array.isArray(doc.resourceSpans)) {
    throw new OtlpFormatError(where, 'expected an OTLP/JSON traces document: {"resourceSpans": [...]}');
  }
  const out: OtlpSpan[] = [];
  doc.resourceSpans.forEach((rs, r) => {
    const at = `${where}: resourceSpans[${r}]`;
    if (!isObject(rs)) throw new OtlpFormatError(at, 'expected an object');
    const resource = attributes(
      isObject(rs.resource) ? list(rs.resource.attributes, `${at}.resource`, 'attributes') : [],
      `${at}.resource.attributes`,
    );
    // `instrumentationLibrarySpans`: the name before OTLP 0.15.
    const scopes = rs.scopeSpans ?? rs.instrumentationLibrarySpans;
    list(scopes, at, 'scopeSpans').forEach((ss, i) => {
      const sat = `${at}.scopeSpans[${i}]`;
      if (!isObject(ss)) throw new OtlpFormatError(sat, 'expected an object');
      list(ss.spans, sat, 'spans').forEach((span, j) => out.push(adaptSpan(span, `${sat}.spans[${j}]`, resource)));
    });
  });
  return out;
}

/**
 * Spans from OTLP/JSON text: one document, or one document per line (the collector's file exporter).
 * Errors name the line (when there are several) and the field.
 */
export function parseOtlp(text: string): OtlpSpan[] {
  const trimmed = text.trim();
  if (trimmed === '') throw new OtlpFormatError('input', 'empty: expected OTLP/JSON traces');
  try {
    return spansOf(JSON.parse(trimmed), 'document');
  } catch (error) {
    if (error instanceof OtlpFormatError) throw error;
  }
  const out: OtlpSpan[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let doc: unknown;
    try {
      doc = JSON.parse(line);
    } catch (error) {
      throw new OtlpFormatError(`line ${i + 1}`, `not JSON: ${(error as Error).message}`);
    }
    out.push(...spansOf(doc, `line ${i + 1}`));
  });
  return out;
}

export interface ConvertOptions {
  /** agent_id when the trace's run span does not give one. */
  agentId?: string;
  /** env when the trace's run span does not give one. */
  env?: string;
  /** Also turn alm.llm spans into llm.request / llm.response events (as `events.llmEvents` does). */
  llmEvents?: boolean;
}

function text(v: AttributeValue | undefined): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/**
 * The envelope of each trace's events: from its run span (`gen_ai.agent.id`, `alm.env`, versions), as
 * alm-otel wrote them, else the options, else the resource (`service.name`,
 * `deployment.environment.name`).
 */
function envelopes(spans: OtlpSpan[], options: ConvertOptions): Map<string, Envelope> {
  const runs = new Map<string, Attributes>();
  for (const { span, traceId } of spans) {
    if (span.attributes[sc.ATTR_GEN_AI_OPERATION_NAME] === sc.GEN_AI_OPERATION_NAME_VALUE_INVOKE_AGENT) {
      if (!runs.has(traceId) || span.attributes[sc.ATTR_ALM_RUN_ID] !== undefined) runs.set(traceId, span.attributes);
    }
  }
  const out = new Map<string, Envelope>();
  for (const { traceId, resource } of spans) {
    if (out.has(traceId)) continue;
    const run = runs.get(traceId) ?? {};
    out.set(traceId, {
      agentId:
        options.agentId ?? text(run[sc.ATTR_GEN_AI_AGENT_ID]) ?? text(resource['service.name']) ?? 'unknown-agent',
      env:
        options.env ??
        text(run[sc.ATTR_ALM_ENV]) ??
        text(resource['deployment.environment.name']) ??
        text(resource['deployment.environment']) ??
        'development',
      agentVersion: text(run[sc.ATTR_GEN_AI_AGENT_VERSION]) ?? null,
      policyVersion: text(run[sc.ATTR_ALM_POLICY_VERSION]) ?? null,
    });
  }
  return out;
}

export interface Converted {
  events: ALMEvent[];
  /** Spans that are neither alm-otel spans nor execute_tool spans (left out). */
  skipped: number;
  spans: number;
  /**
   * Spans in a parent cycle (A's parent is B and B's parent is A, or longer loops), and spans under
   * them: no root leads to them. They are converted anyway, each loop entered at its earliest span,
   * and listed here as `traceId/spanId` so that the caller can say so.
   */
  cycles: string[];
}

function hrMs(t: readonly [number, number]): number {
  return t[0] * 1e3 + t[1] / 1e6;
}

interface SpanNode {
  readonly item: OtlpSpan;
  readonly index: number;
  readonly children: SpanNode[];
  walked: boolean;
}

/** Siblings in the order they ran: by start, then by end (an SDK's start times are whole milliseconds). */
function byStart(a: SpanNode, b: SpanNode): number {
  const sa = a.item.span;
  const sb = b.item.span;
  return hrMs(sa.startTime) - hrMs(sb.startTime) || hrMs(sa.endTime) - hrMs(sb.endTime) || a.index - b.index;
}

/**
 * ALM events for OTLP spans, in the order alm-otel emits them live: each trace walked from its root,
 * an operation's start events, then its children's (in the order they ran), then its end events.
 * The walk follows parent span ids rather than timestamps alone, because SDKs stamp span starts to
 * the millisecond. Spans whose parent is not in the input start a walk of their own. The walk keeps
 * its own stack, so a chain of any length converts; spans in a parent cycle are reported (`cycles`).
 */
export function convertSpans(spans: OtlpSpan[], options: ConvertOptions = {}): Converted {
  const byTrace = envelopes(spans, options);
  const nodes = new Map<string, SpanNode>();
  spans.forEach((item, index) =>
    nodes.set(`${item.traceId}/${item.spanId}`, { item, index, children: [], walked: false }),
  );
  const roots: SpanNode[] = [];
  for (const node of nodes.values()) {
    const parent = node.item.parentSpanId && nodes.get(`${node.item.traceId}/${node.item.parentSpanId}`);
    if (parent && parent !== node) parent.children.push(node);
    else roots.push(node);
  }
  const events: ALMEvent[] = [];
  let skipped = 0;
  const walk = (root: SpanNode): void => {
    // Each entry: a span whose start events are out, and the index of the next child to walk.
    const stack: { node: SpanNode; record: ReturnType<typeof recordFromSpan>; next: number }[] = [];
    const enter = (node: SpanNode) => {
      node.walked = true;
      const { span, traceId } = node.item;
      const found = recordFromSpan(span as ReadableSpan);
      const record = found?.kind === 'llm' && options.llmEvents !== true ? undefined : found;
      if (record === undefined) skipped++;
      else startEvents(record, byTrace.get(traceId)!, events);
      node.children.sort(byStart);
      stack.push({ node, record, next: 0 });
    };
    enter(root);
    while (stack.length > 0) {
      const top = stack.at(-1)!;
      const child = top.node.children[top.next++];
      if (child !== undefined) {
        if (!child.walked) enter(child);
        continue;
      }
      stack.pop();
      if (top.record !== undefined && top.record.endTime > 0) {
        endEvents(top.record, byTrace.get(top.node.item.traceId)!, events);
      }
    }
  };
  for (const root of roots.sort(byStart)) walk(root);
  // What no root reached hangs off a parent cycle: enter each loop at its earliest span.
  const unreached = [...nodes.values()].filter((n) => !n.walked);
  const cycles = unreached.map((n) => `${n.item.traceId}/${n.item.spanId}`);
  for (const node of unreached.sort(byStart)) if (!node.walked) walk(node);
  return { events, skipped, spans: spans.length, cycles };
}
