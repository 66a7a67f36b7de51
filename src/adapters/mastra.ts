/**
 * The Mastra adapter (`alm.mastraTool`, `alm.mastraTools`): Mastra (`@mastra/core` 1.x) calls a tool as
 * `execute(inputData, context)`, where `context` holds Mastra itself, memory, the request context,
 * tracing and, for an agent's call, `agent: { toolCallId, messages, ... }`. Wrapped here, each call is
 * one alm tool call: decided and enforced before `execute` runs (a denied call throws ToolDeniedError,
 * which Mastra hands to the model as the tool's error), recorded under Mastra's `toolCallId`, with only
 * `inputData` as its arguments: the context never reaches the events. Declared structurally: nothing
 * here imports Mastra.
 */
import type { AnyFunction, FrameworkCalls } from '../instrument/tool';
import type { WrapForFramework } from './ai-sdk';

const MASTRA_CALLS: FrameworkCalls = {
  input: (args) => args.slice(0, 1),
  callId(args) {
    const context = args[1];
    if (typeof context !== 'object' || context === null) return undefined;
    const agent = (context as { agent?: unknown }).agent;
    if (typeof agent !== 'object' || agent === null) return undefined;
    const id = (agent as { toolCallId?: unknown }).toolCallId;
    return typeof id === 'string' && id.length > 0 ? id : undefined;
  },
};

/**
 * A copy of a Mastra tool (a `createTool()` instance: same prototype, same fields) whose `execute` goes
 * through alm; a tool without `execute` is returned as is.
 */
export function wrapMastraTool<T extends object>(wrap: WrapForFramework, name: string, tool: T): T {
  const execute = (tool as { execute?: unknown }).execute;
  if (typeof execute !== 'function') return tool;
  const copy = Object.create(Object.getPrototypeOf(tool) as object | null, Object.getOwnPropertyDescriptors(tool));
  Object.defineProperty(copy, 'execute', {
    value: wrap(name, execute as AnyFunction, MASTRA_CALLS),
    writable: true,
    enumerable: true,
    configurable: true,
  });
  return copy as T;
}
