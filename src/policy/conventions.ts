/**
 * How each instrumentation convention marks a tool-call span, and where it keeps the tool's name, the
 * call's id, its arguments and its result. The one table both the policy SpanProcessor (live spans) and
 * the event translation (`recordFromSpan`, so ALMEventExporter too) read tool spans through.
 *
 * Attribute names are those the instrumentations really write (read from their published packages):
 *   - OpenTelemetry GenAI `execute_tool` spans: alm-otel itself, Vercel AI SDK 7 with `@ai-sdk/otel`'s
 *     `OpenTelemetry` integration, and anything that sets the GenAI attributes (at start or later).
 *   - OpenInference (`@arizeai/openinference-*`: LangChain, LlamaIndex, OpenAI Agents, Mastra, BeeAI):
 *     `openinference.span.kind = TOOL`; the LangChain instrumentation sets the kind at start and
 *     `tool.name`, `input.value`, `output.value` only when the run ends.
 *   - OpenLLMetry / Traceloop (`@traceloop/node-server-sdk` `withTool` / `@tool`): `traceloop.span.kind =
 *     tool`, set just after the span starts, with `traceloop.entity.name` and `traceloop.entity.input`
 *     (JSON `{"args": [...], "kwargs": {...}}`) / `traceloop.entity.output`. It has no call id.
 *   - OpenLLMetry's LangChain instrumentation (`@traceloop/instrumentation-langchain` 0.27): `gen_ai.operation.name
 *     = execute_tool` with `traceloop.span.kind = task`, no `gen_ai.tool.name`, and a `traceloop.entity.name`
 *     that is the tool's LangChain class (`DynamicStructuredTool` for every `tool()`), never its name.
 *   - Both LangChain instrumentations end a tool span invoked with a model's tool call (an agent's, LangGraph's
 *     ToolNode's) with the serialized `ToolMessage` as its output: the tool's name and the model's call id
 *     are read from it when the span has none of its own (at the end, so too late to block: see foreign.ts).
 *   - Vercel AI SDK 5 and 6 built-in telemetry, and 7's `LegacyOpenTelemetry`: `ai.toolCall` spans
 *     (`ai.operationId = ai.toolCall`, `ai.toolCall.name`, `.id`, `.args`, `.result`).
 */
import type { Attributes } from '@opentelemetry/api';
import * as sc from '../semconv';

/** One convention's row. Keys are span attribute names. */
export interface ToolConvention {
  /** Short name, for messages and docs. */
  readonly id: 'gen_ai' | 'openinference' | 'openllmetry' | 'openllmetry_langchain' | 'ai_sdk';
  /** The attribute that marks a tool span, and its value (compared as written). */
  readonly kindKey: string;
  readonly kindValue: string;
  /** A second attribute and value the span must carry too, when the kind alone also marks other spans. */
  readonly alsoKey?: string;
  readonly alsoValue?: string;
  readonly nameKey: string;
  /** Undefined when the convention has no call id. */
  readonly callIdKey: string | undefined;
  readonly argsKey: string;
  readonly resultKey: string;
  /** Arguments as recorded, from the attribute's parsed JSON (default: as parsed). */
  readonly args?: (parsed: unknown) => unknown;
  /** A LangChain instrumentation: the result may be a serialized ToolMessage naming the tool and the call. */
  readonly langchain?: boolean;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** OpenLLMetry's LangChain instrumentation records `{args: [input]}` with the input as JSON text: its object. */
function openllmetryLangchainArgs(parsed: unknown): unknown {
  const shaped = openllmetryArgs(parsed);
  if (!Array.isArray(shaped) || shaped.length !== 1 || typeof shaped[0] !== 'string') return shaped;
  try {
    return JSON.parse(shaped[0]);
  } catch {
    return shaped[0];
  }
}

/** OpenLLMetry wraps the call's arguments as `{args: [...], kwargs: {...}}`: back to one object or a list. */
function openllmetryArgs(parsed: unknown): unknown {
  if (!isRecord(parsed) || !('args' in parsed || 'kwargs' in parsed)) return parsed;
  const list = Array.isArray(parsed.args) ? parsed.args : [];
  const kwargs = isRecord(parsed.kwargs) ? parsed.kwargs : {};
  if (list.length === 0) return kwargs;
  return Object.keys(kwargs).length === 0 ? list : [...list, kwargs];
}

export const TOOL_CONVENTIONS: readonly ToolConvention[] = Object.freeze([
  // Before gen_ai, whose kind it shares: its name is not in gen_ai.tool.name (not in traceloop.entity.name either).
  {
    id: 'openllmetry_langchain',
    kindKey: 'traceloop.span.kind',
    kindValue: 'task',
    alsoKey: sc.ATTR_GEN_AI_OPERATION_NAME,
    alsoValue: sc.GEN_AI_OPERATION_NAME_VALUE_EXECUTE_TOOL,
    nameKey: sc.ATTR_GEN_AI_TOOL_NAME,
    callIdKey: sc.ATTR_GEN_AI_TOOL_CALL_ID,
    argsKey: 'traceloop.entity.input',
    resultKey: 'traceloop.entity.output',
    args: openllmetryLangchainArgs,
    langchain: true,
  },
  {
    id: 'gen_ai',
    kindKey: sc.ATTR_GEN_AI_OPERATION_NAME,
    kindValue: sc.GEN_AI_OPERATION_NAME_VALUE_EXECUTE_TOOL,
    nameKey: sc.ATTR_GEN_AI_TOOL_NAME,
    callIdKey: sc.ATTR_GEN_AI_TOOL_CALL_ID,
    argsKey: sc.ATTR_GEN_AI_TOOL_CALL_ARGUMENTS,
    resultKey: sc.ATTR_GEN_AI_TOOL_CALL_RESULT,
  },
  {
    id: 'openinference',
    kindKey: 'openinference.span.kind',
    kindValue: 'TOOL',
    nameKey: 'tool.name',
    callIdKey: 'tool_call.id',
    argsKey: 'input.value',
    resultKey: 'output.value',
    langchain: true,
  },
  {
    id: 'openllmetry',
    kindKey: 'traceloop.span.kind',
    kindValue: 'tool',
    nameKey: 'traceloop.entity.name',
    callIdKey: undefined,
    argsKey: 'traceloop.entity.input',
    resultKey: 'traceloop.entity.output',
    args: openllmetryArgs,
  },
  {
    id: 'ai_sdk',
    kindKey: 'ai.operationId',
    kindValue: 'ai.toolCall',
    nameKey: 'ai.toolCall.name',
    callIdKey: 'ai.toolCall.id',
    argsKey: 'ai.toolCall.args',
    resultKey: 'ai.toolCall.result',
  },
] satisfies ToolConvention[]);

/** The convention that marks these attributes as a tool span, if any (the name may not be known yet). */
export function toolConvention(a: Attributes): ToolConvention | undefined {
  for (let i = 0; i < TOOL_CONVENTIONS.length; i++) {
    const c = TOOL_CONVENTIONS[i]!;
    if (a[c.kindKey] === c.kindValue && (c.alsoKey === undefined || a[c.alsoKey] === c.alsoValue)) return c;
  }
  return undefined;
}

function nonEmpty(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/**
 * The `name` and `tool_call_id` of the LangChain ToolMessage a tool span ended with, if its result is one:
 * `{"lc":1,"type":"constructor","id":[...,"ToolMessage"],"kwargs":{...}}`, bare (OpenLLMetry) or as
 * `{"output": ...}` (OpenInference). Anything else, or text that is not JSON, gives nothing.
 */
function toolMessageOf(a: Attributes, c: ToolConvention): { name?: string; id?: string } | undefined {
  const v = a[c.resultKey];
  // Cheap test first: most spans are not these, and a result may be large.
  if (typeof v !== 'string' || !v.includes('ToolMessage')) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(v);
  } catch {
    return undefined;
  }
  if (isRecord(parsed) && isRecord(parsed.output)) parsed = parsed.output;
  if (!isRecord(parsed) || !Array.isArray(parsed.id) || parsed.id[parsed.id.length - 1] !== 'ToolMessage') {
    return undefined;
  }
  const kwargs = isRecord(parsed.kwargs) ? parsed.kwargs : {};
  return { name: nonEmpty(kwargs.name), id: nonEmpty(kwargs.tool_call_id) };
}

/** The tool's name, once the span carries it. Never a placeholder. */
export function toolNameOf(c: ToolConvention, a: Attributes): string | undefined {
  const name = nonEmpty(a[c.nameKey]);
  return name !== undefined || c.langchain !== true ? name : toolMessageOf(a, c)?.name;
}

/** The framework's id for this call, when the convention has one and the span carries it. */
export function toolCallIdOf(c: ToolConvention, a: Attributes): string | undefined {
  if (c.callIdKey === undefined) return undefined;
  const v = a[c.callIdKey];
  const id = typeof v === 'number' ? String(v) : nonEmpty(v);
  return id !== undefined || c.langchain !== true ? id : toolMessageOf(a, c)?.id;
}

/** The arguments or result as data: JSON text parsed (plain text stays text); absent stays absent. */
function content(v: unknown, shape?: (parsed: unknown) => unknown): unknown {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') return v;
  let parsed: unknown;
  try {
    parsed = JSON.parse(v);
  } catch {
    return v;
  }
  return shape === undefined ? parsed : shape(parsed);
}

export function toolArgsOf(c: ToolConvention, a: Attributes): unknown {
  return content(a[c.argsKey], c.args);
}

export function toolResultOf(c: ToolConvention, a: Attributes): unknown {
  return content(a[c.resultKey]);
}
