/**
 * The Vercel AI SDK adapter, for AI SDK 5, 6 and 7 (language model specification v2, v3 and v4).
 *
 * Tools (`alm.aiSdkTool`, `alm.aiSdkTools`): the AI SDK calls a tool as
 * `execute(input, { toolCallId, messages, abortSignal, ... })`. Wrapped here, each call is one clean
 * alm tool call: decided and enforced before `execute` runs (a denied call throws ToolDeniedError,
 * which the AI SDK hands to the model as a tool error), recorded under the AI SDK's `toolCallId`, with
 * only `input` as its arguments: the conversation in `messages` never reaches the events.
 *
 * Models (`alm.aiSdkModel`): a language model whose `doGenerate` / `doStream` begin as alm model calls
 * (instrument/llm.ts's beginLlm, as `alm.llm`): refused with BudgetExceededError before the provider is
 * called once a model-call, token or cost budget of the run is reached; the call's usage (a stream's
 * from its `finish` part) counted once, when the provider reports it: before the AI SDK runs the step's
 * tools. When the AI SDK's own telemetry has opened its model span for the call, that span is
 * decorated (and carries the call id, so the policy SpanProcessor does not count it again).
 *
 * Tool approval (`alm.aiSdkToolApproval`, AI SDK 7's `toolApproval`): every tool call of a step is
 * decided before any runs, wrapped or not; a refused one is recorded as denied and comes back to the AI
 * SDK as `{ type: 'denied', reason }`, which the model reads as the call's output; an allowed one takes
 * its tool-call slot then (instrument/tool.ts's refuseAhead), its execution none.
 */
import { context, trace, type Span } from '@opentelemetry/api';
import type { ToolDeniedError } from '../errors';
import type { LlmOptions, ModelCall } from '../instrument/llm';
import type { AnyFunction, FrameworkCalls } from '../instrument/tool';
import { count, read, type ResponseDetails, type TokenUsage } from '../instrument/usage';
import { modelConvention } from '../policy/model-conventions';

/** How the ALM instance wraps a tool function for a framework (instrumented, or plain when disabled). */
export type WrapForFramework = <F extends AnyFunction>(name: string, fn: F, framework: FrameworkCalls) => F;

const AI_SDK_CALLS: FrameworkCalls = {
  input: (args) => args.slice(0, 1),
  callId(args) {
    const options = args[1];
    if (typeof options !== 'object' || options === null) return undefined;
    const id = (options as { toolCallId?: unknown }).toolCallId;
    return typeof id === 'string' && id.length > 0 ? id : undefined;
  },
};

/** A copy of an AI SDK tool whose `execute` goes through alm; a tool without `execute` is returned as is. */
export function wrapAiSdkTool<T extends object>(wrap: WrapForFramework, name: string, tool: T): T {
  const execute = (tool as { execute?: unknown }).execute;
  if (typeof execute !== 'function') return tool;
  return { ...tool, execute: wrap(name, execute as AnyFunction, AI_SDK_CALLS) };
}

/**
 * What alm needs of an AI SDK language model: the provider specification's `LanguageModelV2` (AI SDK 5),
 * `LanguageModelV3` (6) and `LanguageModelV4` (7), declared structurally.
 */
export interface AiSdkLanguageModel {
  readonly specificationVersion: string;
  readonly provider: string;
  readonly modelId: string;
  doGenerate(options: AiSdkCallOptions): PromiseLike<unknown>;
  doStream(options: AiSdkCallOptions): PromiseLike<unknown>;
}

/** The part of a call's options alm reads: the output cap, for budget admission. */
export interface AiSdkCallOptions {
  maxOutputTokens?: number;
}

/**
 * Begin a model call (instrument/llm.ts's beginLlm, or its disabled-mode twin): admitted by the run's
 * budgets, joining `span` if given, then `use(call)`; refused, the promise rejects and `use` never runs.
 */
export type BeginModelCall = (
  options: LlmOptions,
  span: Span | undefined,
  use: (call: ModelCall) => Promise<unknown>,
) => Promise<unknown>;

function text(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

function sum(...parts: (number | undefined)[]): number | undefined {
  return parts.some((p) => p !== undefined) ? parts.reduce<number>((a, p) => a + (p ?? 0), 0) : undefined;
}

/**
 * A call's usage in the specification's shapes. v3 / v4 (AI SDK 6, 7): `inputTokens.total` (cached
 * reads and writes included) and `outputTokens.total` (reasoning included), else the sum of their
 * parts. v2 (AI SDK 5): `inputTokens` / `outputTokens`; a `totalTokens` above their sum (reasoning
 * reported beside the output) counts as output.
 */
export function aiSdkUsage(usage: unknown): TokenUsage | undefined {
  const input = read(usage, 'inputTokens');
  const output = read(usage, 'outputTokens');
  let inputTokens: number | undefined;
  let outputTokens: number | undefined;
  if ((typeof input === 'object' && input !== null) || (typeof output === 'object' && output !== null)) {
    inputTokens =
      count(read(input, 'total')) ??
      sum(count(read(input, 'noCache')), count(read(input, 'cacheRead')), count(read(input, 'cacheWrite')));
    outputTokens = count(read(output, 'total')) ?? sum(count(read(output, 'text')), count(read(output, 'reasoning')));
  } else {
    inputTokens = count(input);
    outputTokens = count(output);
    const total = count(read(usage, 'totalTokens'));
    const reported = (inputTokens ?? 0) + (outputTokens ?? 0);
    if (total !== undefined && total > reported) outputTokens = (outputTokens ?? 0) + total - reported;
  }
  if (inputTokens === undefined && outputTokens === undefined) return undefined;
  return { inputTokens: inputTokens ?? 0, outputTokens: outputTokens ?? 0 };
}

/** v3 / v4 finish reasons are `{ unified, raw }`, v2's a string. */
function finishReason(v: unknown): string | undefined {
  return text(v) ?? text(read(v, 'unified'));
}

/** The AI SDK's own model span for this call, when its telemetry opened one and made it active. */
function aiSdkModelSpan(): Span | undefined {
  const span = trace.getSpan(context.active());
  if (span === undefined) return undefined;
  const attributes = read(span, 'attributes');
  if (typeof attributes !== 'object' || attributes === null) return undefined;
  // An alm model call's span carries its call id, and is not joined twice.
  return modelConvention(attributes as never) === undefined ? undefined : span;
}

function outputCap(options: unknown): number | undefined {
  const cap = read(options, 'maxOutputTokens');
  return typeof cap === 'number' && Number.isFinite(cap) && cap > 0 ? cap : undefined;
}

/** What admission knows of the call before it starts: the model, and the output cap it declared. */
function request(model: AiSdkLanguageModel, options: unknown): LlmOptions {
  const request: LlmOptions = {
    provider: text(read(model, 'provider')) ?? 'unknown',
    model: text(read(model, 'modelId')) ?? 'unknown',
  };
  const maxOutputTokens = outputCap(options);
  if (maxOutputTokens !== undefined) request.maxOutputTokens = maxOutputTokens;
  return request;
}

/** What the result (or a stream's parts) said about the call: usage, response id and model, finish reason. */
class Report {
  private readonly response: ResponseDetails = {};
  constructor(private readonly call: ModelCall) {}

  metadata(source: unknown): void {
    const id = text(read(source, 'id'));
    const model = text(read(source, 'modelId'));
    if (id !== undefined) this.response.id = id;
    if (model !== undefined) this.response.model = model;
    this.call.setResponse(this.response);
  }

  finished(reason: unknown, usage: unknown): void {
    const r = finishReason(reason);
    if (r !== undefined) this.response.finishReasons = [r];
    this.call.setResponse(this.response);
    const tokens = aiSdkUsage(usage);
    if (tokens !== undefined) this.call.setUsage(tokens);
  }
}

/** The provider, called in the call's context: its error ends the call failed and is rethrown unchanged. */
async function callProvider(call: ModelCall, invoke: () => PromiseLike<unknown>): Promise<unknown> {
  try {
    return await context.with(call.otelContext, invoke);
  } catch (error) {
    call.finish(true, error);
    throw error;
  }
}

function generate(start: BeginModelCall, model: AiSdkLanguageModel, options: AiSdkCallOptions): Promise<unknown> {
  return start(request(model, options), aiSdkModelSpan(), async (call) => {
    const result = await callProvider(call, () => model.doGenerate(options));
    const report = new Report(call);
    report.metadata(read(result, 'response'));
    report.finished(read(result, 'finishReason'), read(result, 'usage'));
    call.finish(false, undefined);
    return result;
  });
}

/** The provider's stream, passed through part by part; the call ends at its `finish` part (or its end). */
function observedStream(call: ModelCall, stream: ReadableStream<unknown>): ReadableStream<unknown> {
  const reader = stream.getReader();
  const report = new Report(call);
  let ended = false;
  const end = (failed: boolean, outcome: unknown) => {
    if (ended) return;
    ended = true;
    call.finish(failed, outcome);
  };
  return new ReadableStream<unknown>({
    async pull(controller) {
      let next: Awaited<ReturnType<typeof reader.read>>;
      try {
        next = await reader.read();
      } catch (error) {
        end(true, error);
        controller.error(error);
        return;
      }
      if (next.done) {
        end(false, undefined);
        controller.close();
        return;
      }
      const part = next.value;
      const type = read(part, 'type');
      if (type === 'response-metadata') report.metadata(part);
      else if (type === 'finish') {
        report.finished(read(part, 'finishReason'), read(part, 'usage'));
        end(false, undefined);
      } else if (type === 'error') end(true, read(part, 'error'));
      controller.enqueue(part);
    },
    cancel(reason) {
      end(false, undefined);
      return reader.cancel(reason);
    },
  });
}

function stream(start: BeginModelCall, model: AiSdkLanguageModel, options: AiSdkCallOptions): Promise<unknown> {
  return start(request(model, options), aiSdkModelSpan(), async (call) => {
    const result = await callProvider(call, () => model.doStream(options));
    const parts = read(result, 'stream');
    if (!(parts instanceof ReadableStream)) {
      call.finish(false, undefined);
      return result;
    }
    return { ...(result as object), stream: observedStream(call, parts) };
  });
}

/**
 * The model, with `doGenerate` and `doStream` going through alm. Everything else (`provider`,
 * `modelId`, `supportedUrls`, a mock's recorded calls) is read from the model itself, getters run on
 * it (a provider class's private fields stay reachable).
 */
export function wrapAiSdkModel<M extends AiSdkLanguageModel>(start: BeginModelCall, model: M): M {
  const doGenerate = (options: AiSdkCallOptions) => generate(start, model, options);
  const doStream = (options: AiSdkCallOptions) => stream(start, model, options);
  return new Proxy(model, {
    get(target, key) {
      if (key === 'doGenerate') return doGenerate;
      if (key === 'doStream') return doStream;
      return Reflect.get(target, key, target);
    },
  });
}

/** Refuse a tool call before it runs, if policy does (instrument/tool.ts's refuseAhead). */
export type RefuseAhead = (
  toolName: string,
  input: unknown,
  toolCallId: string | undefined,
) => ToolDeniedError | undefined;

/** What AI SDK 7 passes a `toolApproval` function: the tool call (and tools, messages, contexts). */
export interface AiSdkToolApprovalRequest {
  readonly toolCall: { readonly toolName: string; readonly toolCallId: string; readonly input: unknown };
}

/** `{ type: 'denied', reason }` for a refused call; undefined (the AI SDK's `not-applicable`) otherwise. */
export type AiSdkToolApprovalStatus = { type: 'denied'; reason: string } | undefined;

export function approveAiSdkToolCall(refuse: RefuseAhead, request: AiSdkToolApprovalRequest): AiSdkToolApprovalStatus {
  // Read defensively (`read` never throws): a hostile request costs the decision here, not the agent.
  const toolCall = read(request, 'toolCall');
  const name = text(read(toolCall, 'toolName'));
  // Without a name there is nothing to decide: the call's execution is decided when it runs.
  if (name === undefined) return undefined;
  const denied = refuse(name, read(toolCall, 'input'), text(read(toolCall, 'toolCallId')));
  return denied === undefined ? undefined : { type: 'denied', reason: denied.reason };
}
