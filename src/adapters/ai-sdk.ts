/**
 * The Vercel AI SDK adapter (`alm.aiSdkTool`, `alm.aiSdkTools`): AI SDK 5, 6 and 7 call a tool as
 * `execute(input, { toolCallId, messages, abortSignal, ... })`. Wrapped here, each call is one clean
 * alm tool call: decided and enforced before `execute` runs (a denied call throws ToolDeniedError,
 * which the AI SDK hands to the model as a tool error), recorded under the AI SDK's `toolCallId`, with
 * only `input` as its arguments: the conversation in `messages` never reaches the events.
 */
import type { AnyFunction, FrameworkCalls } from '../instrument/tool';

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
