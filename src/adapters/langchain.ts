/**
 * The LangChain adapter (`alm.langchainTool`): LangChain.js runs a `tool(func, fields)` function as
 * `func(input, config)`, where `config` is the run's RunnableConfig (callbacks, tracer handlers, and
 * `toolCall` when a model's tool call is invoked). Wrapped here, each call records only `input`, under
 * the model's tool-call id when there is one.
 */
import type { AnyFunction, FrameworkCalls } from '../instrument/tool';
import type { WrapForFramework } from './ai-sdk';

const LANGCHAIN_CALLS: FrameworkCalls = {
  input: (args) => args.slice(0, 1),
  callId(args) {
    const config = args[1];
    if (typeof config !== 'object' || config === null) return undefined;
    const toolCall = (config as { toolCall?: unknown }).toolCall;
    if (typeof toolCall !== 'object' || toolCall === null) return undefined;
    const id = (toolCall as { id?: unknown }).id;
    return typeof id === 'string' && id.length > 0 ? id : undefined;
  },
};

export function wrapLangchainTool<F extends AnyFunction>(wrap: WrapForFramework, name: string, func: F): F {
  return wrap(name, func, LANGCHAIN_CALLS);
}
