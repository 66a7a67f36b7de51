/**
 * The OpenAI Agents JS adapter (`alm.openaiAgentsTool(s)`, `alm.openaiAgentsModel`), written against
 * `@openai/agents` 0.x structurally (no import of the package).
 *
 * Tools: the SDK runs a function tool (`tool({ name, parameters, execute })`) as
 * `tool.invoke(runContext, input, details)`, where `input` is the model's arguments as JSON text and
 * `details.toolCall.callId` is the model's id for the call. Wrapped here, `invoke` is an alm tool call:
 * decided before it runs, recorded under that `callId`, with only the parsed input as its arguments
 * (never the RunContext). A denied call does not run: its output, which the SDK hands to the model as
 * the tool's result, is the denial with the policy's reason (the SDK's own error output would be a
 * generic "An error occurred while running the tool"). Errors of the tool's own `execute` are turned
 * into output by the SDK inside `invoke` (its `errorFunction`): alm records that output as the result.
 *
 * Models: the SDK's `Model` (`getResponse`, `getStreamedResponse`) wrapped so that each request is an
 * alm model call (`alm.llm`'s path, `modelSettings.maxTokens` as its declared maximum output): refused
 * with BudgetExceededError before the provider is called when the run's model-call, token or cost
 * budget is reached, and its usage counted once, from the response's `usage` (streamed: from the final
 * `response_done` event).
 */
import { context, type Context } from '@opentelemetry/api';
import { ToolDeniedError } from '../errors';
import type { LlmCallHandle, LlmOptions } from '../instrument/llm';
import type { AnyFunction, FrameworkCalls } from '../instrument/tool';
import type { WrapForFramework } from './ai-sdk';

/** How the ALM instance runs a model call (alm.llm's path, or the plain one when disabled). */
export type StartModelCall = <T>(options: LlmOptions, fn: (call: LlmCallHandle) => T) => T;

function read(o: unknown, key: string): unknown {
  if (o === null || (typeof o !== 'object' && typeof o !== 'function')) return undefined;
  try {
    return (o as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

function nonEmpty(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/** `invoke(runContext, input, details)`: the input is the model's arguments as JSON text. */
const OPENAI_AGENTS_CALLS: FrameworkCalls = {
  input(args) {
    const input = args[1];
    if (typeof input !== 'string') return [input];
    try {
      return [JSON.parse(input)];
    } catch {
      return [input]; // not JSON: the SDK rejects it as invalid input; recorded as the model sent it
    }
  },
  callId: (args) => nonEmpty(read(read(args[2], 'toolCall'), 'callId')),
};

/**
 * A copy of an OpenAI Agents function tool whose `invoke` goes through alm; any other tool (hosted,
 * computer, shell, an agent's handoff) is returned as it is.
 */
export function wrapOpenaiAgentsTool<T>(wrap: WrapForFramework, tool: T): T {
  const invoke = read(tool, 'invoke');
  const name = nonEmpty(read(tool, 'name'));
  if (read(tool, 'type') !== 'function' || typeof invoke !== 'function' || name === undefined) return tool;
  const guarded = wrap(name, invoke as AnyFunction, OPENAI_AGENTS_CALLS);
  async function almInvoke(this: unknown, ...args: unknown[]): Promise<unknown> {
    try {
      return await guarded.apply(this, args);
    } catch (error) {
      // Denied before it ran: the model reads the reason as the tool's output and can carry on.
      if (error instanceof ToolDeniedError && read(error, 'toolName') === name) return error.message;
      throw error;
    }
  }
  // The same object otherwise: its own and symbol-keyed properties (the SDK keeps some there) and prototype.
  const descriptors: PropertyDescriptorMap = Object.getOwnPropertyDescriptors(tool);
  descriptors.invoke = { value: almInvoke, writable: true, enumerable: true, configurable: true };
  return Object.create(Object.getPrototypeOf(tool) as object | null, descriptors) as T;
}

export interface OpenaiAgentsModelOptions {
  /** The requested model, as `policy.prices` keys it; default: the wrapped model's own name if it exposes one. */
  model?: string;
  /** The provider, as `gen_ai.provider.name` names it; default `openai`. */
  provider?: string;
}

/** The model name an SDK model carries (OpenAIResponsesModel and OpenAIChatCompletionsModel keep `_model`). */
function modelNameOf(model: object): string | undefined {
  return nonEmpty(read(model, 'model')) ?? nonEmpty(read(model, '_model')) ?? nonEmpty(read(model, 'modelId'));
}

/** The SDK's `Model` interface, as far as alm uses it. */
interface AgentsModel {
  getResponse(request: unknown): Promise<unknown>;
  getStreamedResponse(request: unknown): AsyncIterable<unknown>;
}

/** The call's options: the request's `modelSettings.maxTokens` is its declared maximum output. */
function callOptions(llm: LlmOptions, request: unknown): LlmOptions {
  const cap = read(read(request, 'modelSettings'), 'maxTokens');
  return typeof cap === 'number' && Number.isFinite(cap) && cap > 0 ? { ...llm, maxOutputTokens: cap } : llm;
}

function respond(start: StartModelCall, llm: LlmOptions, model: AgentsModel, request: unknown): Promise<unknown> {
  // An async function: a refusal rejects; its usage is read from `response.usage` (inputTokens / outputTokens).
  return start(callOptions(llm, request), async (call) => {
    const response = await model.getResponse(request);
    const id = nonEmpty(read(response, 'responseId'));
    if (id !== undefined) call.setResponse({ id });
    return response;
  });
}

/** The usage of a `response_done` event's response. */
function streamUsage(response: unknown): { inputTokens?: number; outputTokens?: number } | undefined {
  const usage = read(response, 'usage');
  const tokens = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined);
  const input = tokens(read(usage, 'inputTokens'));
  const output = tokens(read(usage, 'outputTokens'));
  return input === undefined && output === undefined ? undefined : { inputTokens: input, outputTokens: output };
}

interface Admitted {
  readonly call: LlmCallHandle;
  /** The call's context (its span active), for reading the provider's stream in. */
  readonly otelContext: Context;
}

/**
 * A streamed request: decided when the SDK starts reading it (before the provider is asked), one model
 * call from then until the stream ends, the provider's stream read inside the call's span.
 */
async function* streamed(
  start: StartModelCall,
  llm: LlmOptions,
  model: AgentsModel,
  request: unknown,
): AsyncGenerator<unknown> {
  let end!: (failed: boolean, error?: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    end = (failed, error) => (failed ? reject(error) : resolve());
  });
  done.catch(() => {}); // the stream's error reaches the SDK through the iteration below
  let admit!: (admitted: Admitted) => void;
  const admission = new Promise<Admitted>((resolve) => (admit = resolve));
  // The call lasts until `done`; a refusal rejects `ended` (the provider's stream is never created).
  const ended = start(callOptions(llm, request), async (call) => {
    admit({ call, otelContext: context.active() });
    return done;
  });
  ended.catch(() => {});
  const { call, otelContext } = (await Promise.race([admission, ended])) as Admitted;
  let finished = false;
  let iterator: AsyncIterator<unknown> | undefined;
  try {
    iterator = context.with(otelContext, () => model.getStreamedResponse(request)[Symbol.asyncIterator]());
    for (;;) {
      const step = await context.with(otelContext, () => iterator!.next());
      if (step.done === true) break;
      if (read(step.value, 'type') === 'response_done') {
        const response = read(step.value, 'response');
        const usage = streamUsage(response);
        if (usage !== undefined) call.setUsage(usage);
        const id = nonEmpty(read(response, 'id'));
        if (id !== undefined) call.setResponse({ id });
      }
      yield step.value;
    }
    finished = true;
    end(false);
  } catch (error) {
    finished = true;
    end(true, error);
    throw error;
  } finally {
    // The SDK stopped reading early: the provider's stream is closed, and the call ends with what it used.
    if (!finished) {
      try {
        await iterator?.return?.();
      } finally {
        end(false);
      }
    }
  }
}

/**
 * The model, with `getResponse` and `getStreamedResponse` going through alm. Every other member
 * (`getRetryAdvice`, `supportsPromptModelSelection`, ...) is the model's own, methods bound to it (the
 * SDK's models keep #private fields).
 */
export function wrapOpenaiAgentsModel<M extends object>(
  start: StartModelCall,
  model: M,
  options: OpenaiAgentsModelOptions = {},
): M {
  const inner = model as unknown as AgentsModel;
  const llm: LlmOptions = {
    provider: options.provider ?? 'openai',
    model: options.model ?? modelNameOf(model) ?? 'unknown',
  };
  const getResponse = (request: unknown) => respond(start, llm, inner, request);
  const getStreamedResponse = (request: unknown) => streamed(start, llm, inner, request);
  return new Proxy(model, {
    get(target, key) {
      if (key === 'getResponse') return getResponse;
      if (key === 'getStreamedResponse') return getStreamedResponse;
      const value: unknown = Reflect.get(target, key);
      return typeof value === 'function' ? (value as AnyFunction).bind(target) : value;
    },
  });
}
