/**
 * The Model Context Protocol adapter (`alm.mcpClient`, `alm.mcpServer`), for `@modelcontextprotocol/sdk`
 * 1.x, spoken structurally (no import of the SDK).
 *
 * Client: each `client.callTool(params)` is an alm tool call named `params.name`, decided before the
 * request is sent (a denied call rejects with ToolDeniedError and never reaches the server), recorded
 * with `params.arguments` only, on a CLIENT span as the OpenTelemetry MCP conventions name it
 * (`tools/call {tool}`), and sent with the call's trace context and baggage, the run's id included,
 * in `params._meta` (propagation.ts: with or without a global propagator).
 *
 * Server: each `tools/call` request an `McpServer` (or a low-level `Server`) receives runs under the
 * caller's context taken from `params._meta`, on a SERVER span, decided by this process's policy (a
 * denied call returns an MCP error result with the reason; the handler never runs), and, with no local
 * run open, records under the caller's run id (instrument/remote-run.ts).
 */
import { SpanKind, type Attributes, type Context } from '@opentelemetry/api';
import { ToolDeniedError } from '../errors';
import { truncateString } from '../events/capture';
import type { StructuredError } from '../events/errors';
import type { AnyFunction, FrameworkCalls } from '../instrument/tool';
import { extractContext, injectContext, type Carrier } from '../propagation';
import type { WrapForFramework } from './ai-sdk';

// OpenTelemetry MCP semantic conventions (status: Development), as the incubating package names them.
export const ATTR_MCP_METHOD_NAME = 'mcp.method.name';
export const ATTR_MCP_SESSION_ID = 'mcp.session.id';
export const ATTR_JSONRPC_REQUEST_ID = 'jsonrpc.request.id';
const TOOLS_CALL = 'tools/call';
/** `error.type` of a call whose result says `isError: true`. */
export const TOOL_ERROR = 'tool_error';

/** Tool names given their own wrapper (and so their policy rule) at most, per client or server. */
const MAX_NAMES = 1000;
const WRAPPED = Symbol.for('alm-otel.mcp.wrapped');

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function spanName(tool: string): string {
  return `${TOOLS_CALL} ${tool}`;
}

/** `isError: true`: the tool's failure, as the protocol reports it, with its first text as the message. */
function toolFailure(result: unknown): StructuredError | undefined {
  if (!isRecord(result) || result.isError !== true) return undefined;
  const content = Array.isArray(result.content) ? result.content : [];
  const text = content.find((part): part is { text: string } => isRecord(part) && typeof part.text === 'string');
  return {
    type: TOOL_ERROR,
    message: truncateString(text?.text ?? 'the tool reported an error'),
    source: 'tool',
    retryable: false,
  };
}

/** A wrapper per tool name (each has its own policy rule); past MAX_NAMES names, one made per call. */
function wrapperByName(wrap: WrapForFramework, fn: AnyFunction, calls: FrameworkCalls): (name: string) => AnyFunction {
  const byName = new Map<string, AnyFunction>();
  return (name) => {
    let wrapped = byName.get(name);
    if (wrapped === undefined) {
      wrapped = wrap(name, fn, calls);
      if (byName.size < MAX_NAMES) byName.set(name, wrapped);
    }
    return wrapped;
  };
}

function toolNameOf(params: unknown): string | undefined {
  const name = isRecord(params) ? params.name : undefined;
  return typeof name === 'string' && name.length > 0 ? name : undefined;
}

function argumentsOf(params: unknown): unknown[] {
  return [isRecord(params) ? params.arguments : undefined];
}

interface ClientLike {
  callTool: AnyFunction;
  transport?: { sessionId?: unknown };
  /** The id the SDK's next request will carry (1.x's Protocol). */
  _requestMessageId?: unknown;
}

function clientCalls(client: ClientLike): FrameworkCalls {
  return {
    input: (args) => argumentsOf(args[0]),
    callId: () => undefined,
    span: { name: spanName, kind: SpanKind.CLIENT },
    attributes() {
      const attributes: Attributes = { [ATTR_MCP_METHOD_NAME]: TOOLS_CALL };
      const sessionId = client.transport?.sessionId;
      if (typeof sessionId === 'string') attributes[ATTR_MCP_SESSION_ID] = truncateString(sessionId);
      // The request is sent within this same synchronous call: the SDK's next id is this request's.
      const next = client._requestMessageId;
      if (typeof next === 'number') attributes[ATTR_JSONRPC_REQUEST_ID] = String(next);
      return attributes;
    },
    prepare(args, callContext) {
      const [params, ...rest] = args;
      if (!isRecord(params)) return args;
      const meta: Carrier = isRecord(params._meta) ? { ...params._meta } : {};
      injectContext(callContext, meta);
      return [{ ...params, _meta: meta }, ...rest];
    },
    failure: toolFailure,
  };
}

/** `alm.mcpClient`: the same client, its `callTool` going through alm. Wrapping twice wraps once. */
export function wrapMcpClient<C extends object>(wrap: WrapForFramework, client: C): C {
  const target = client as unknown as ClientLike;
  const original = target.callTool;
  if ((original as { [WRAPPED]?: boolean })[WRAPPED]) return client;
  // The request itself: an async function, so that a denial rejects as the SDK's callTool would.
  const send = async (...args: unknown[]): Promise<unknown> => original.apply(client, args);
  const forName = wrapperByName(wrap, send, clientCalls(target));
  const callTool = function (this: unknown, ...args: unknown[]): unknown {
    const name = toolNameOf(args[0]);
    // Not a tool call alm can name: the SDK rejects it as it would have.
    if (name === undefined) return original.apply(client, args);
    return forName(name)(...args);
  };
  Object.defineProperty(callTool, WRAPPED, { value: true });
  Object.defineProperty(client, 'callTool', { value: callTool, configurable: true, writable: true });
  return client;
}

interface ProtocolLike {
  setRequestHandler: AnyFunction;
  /** 1.x's Protocol: handlers by method, each taking the raw request and its `extra`. */
  _requestHandlers: Map<string, AnyFunction>;
}

function protocolOf(server: object): ProtocolLike | undefined {
  const inner = (server as { server?: unknown }).server;
  const protocol = (isRecord(inner) ? inner : server) as Partial<ProtocolLike>;
  return protocol._requestHandlers instanceof Map && typeof protocol.setRequestHandler === 'function'
    ? (protocol as ProtocolLike)
    : undefined;
}

function paramsOf(request: unknown): Record<string, unknown> | undefined {
  return isRecord(request) && isRecord(request.params) ? request.params : undefined;
}

const SERVER_CALLS: FrameworkCalls = {
  input: (args) => argumentsOf(paramsOf(args[0])),
  callId: () => undefined,
  span: { name: spanName, kind: SpanKind.SERVER },
  attributes(args) {
    const attributes: Attributes = { [ATTR_MCP_METHOD_NAME]: TOOLS_CALL };
    const extra = isRecord(args[1]) ? args[1] : {};
    if (typeof extra.sessionId === 'string') attributes[ATTR_MCP_SESSION_ID] = truncateString(extra.sessionId);
    const id = extra.requestId ?? (isRecord(args[0]) ? args[0].id : undefined);
    if (typeof id === 'string' || typeof id === 'number')
      attributes[ATTR_JSONRPC_REQUEST_ID] = truncateString(String(id));
    return attributes;
  },
  remoteParent(args, active): Context | undefined {
    const meta = paramsOf(args[0])?._meta;
    return isRecord(meta) ? extractContext(active, meta) : undefined;
  },
  failure: toolFailure,
};

/** A denial, as an MCP tool result: the caller (and its model) reads the reason. */
function refusalResult(error: unknown): unknown {
  if (!(error instanceof ToolDeniedError)) throw error;
  return { content: [{ type: 'text', text: error.message }], isError: true };
}

function wrapCallHandler(wrap: WrapForFramework, original: AnyFunction): AnyFunction {
  const run = async (...args: unknown[]): Promise<unknown> => original(...args);
  const forName = wrapperByName(wrap, run, SERVER_CALLS);
  const handler = (...args: unknown[]): unknown => {
    const name = toolNameOf(paramsOf(args[0]));
    if (name === undefined) return original(...args);
    let result: unknown;
    try {
      result = forName(name)(...args);
    } catch (error) {
      result = Promise.reject(error);
    }
    return Promise.resolve(result).then(undefined, refusalResult);
  };
  Object.defineProperty(handler, WRAPPED, { value: true });
  return handler;
}

/**
 * `alm.mcpServer`: the same server, its `tools/call` requests going through alm, those handled now
 * and those registered later (McpServer sets its handler with its first tool). Undefined when the
 * object is not a 1.x server.
 */
export function wrapMcpServer<S extends object>(wrap: WrapForFramework, server: S): S | undefined {
  const protocol = protocolOf(server);
  if (protocol === undefined) return undefined;
  const handlers = protocol._requestHandlers;
  const wrapCurrent = () => {
    const current = handlers.get(TOOLS_CALL);
    if (typeof current === 'function' && !(current as { [WRAPPED]?: boolean })[WRAPPED]) {
      handlers.set(TOOLS_CALL, wrapCallHandler(wrap, current));
    }
  };
  wrapCurrent();
  const setRequestHandler = protocol.setRequestHandler;
  if (!(setRequestHandler as { [WRAPPED]?: boolean })[WRAPPED]) {
    const patched = function (this: unknown, ...args: unknown[]): unknown {
      const result: unknown = setRequestHandler.apply(this, args);
      wrapCurrent();
      return result;
    };
    Object.defineProperty(patched, WRAPPED, { value: true });
    Object.defineProperty(protocol, 'setRequestHandler', { value: patched, configurable: true, writable: true });
  }
  return server;
}
