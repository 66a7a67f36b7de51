/**
 * ALM: the entry point. Wires configuration, policy, the event pipeline and the tracer together,
 * and exposes run / task / tool / handoff. Everything it needs from OpenTelemetry comes through
 * `@opentelemetry/api`; it never registers globals.
 */
import { inspect } from 'node:util';
import { context } from '@opentelemetry/api';
import {
  approveAiSdkToolCall,
  wrapAiSdkModel,
  wrapAiSdkTool,
  type AiSdkLanguageModel,
  type AiSdkToolApprovalRequest,
  type AiSdkToolApprovalStatus,
  type BeginModelCall,
  type WrapForFramework,
} from './adapters/ai-sdk';
import { wrapLangchainTool } from './adapters/langchain';
import { wrapMastraTool } from './adapters/mastra';
import { wrapMcpClient, wrapMcpServer } from './adapters/mcp';
import {
  wrapOpenaiAgentsModel,
  wrapOpenaiAgentsTool,
  type OpenaiAgentsModelOptions,
  type StartModelCall,
} from './adapters/openai-agents';
import type { SpanProcessor } from './otel-types';
import { loadConfig } from './config/load';
import type { ALMOptions } from './config/schema';
import { keyFilter } from './events/capture';
import { EventPipeline, type PipelineStats } from './events/pipeline';
import { toolMethodDecorator, type AsyncToolMethodDecorator, type ToolMethodDecorator } from './instrument/decorators';
import { beginPlainLlm, plainLlm, plainRun, plainTask, plainTool } from './instrument/disabled';
import { type HandoffOptions, recordHandoff } from './instrument/handoff';
import { startRun, type RunHandle, type RunOptions } from './instrument/run';
import { beginLlm, startLlm, type LlmCallHandle, type LlmOptions } from './instrument/llm';
import { Runtime } from './instrument/runtime';
import { GlobalTracer } from './instrument/tracer';
import { startTask, type TaskHandle, type TaskOptions } from './instrument/task';
import type { RetryOptions } from './instrument/retry';
import { refuseAhead, wrapTool, type AnyFunction, type ToolOptions } from './instrument/tool';
import { PolicySpanProcessor } from './policy/processor';
import { ModelPolicy } from './policy/models';
import { spendOf, type RunSpend } from './policy/admission';
import { RedisStore } from './policy/redis-store';
import { ToolPolicy } from './policy/rules';
import { ScopedBudgets } from './policy/scoped';
import { MemoryStore } from './policy/store';
import { checkLabels } from './instrument/labels';
import { createErrorReporter } from './report';
import { createSink } from './sinks';
import { remoteRunId } from './propagation';
import { SDK_VERSION } from './version';

const TRACER_NAME = 'alm-otel';

function splitArgs<O, F>(name: string, a: O | F | undefined, b: F | undefined): [O, F] {
  const [options, fn] = typeof a === 'function' ? [{} as O, a as F] : [(a ?? {}) as O, b];
  if (typeof fn !== 'function') throw new TypeError(`alm.${name}: expected a function to run, got ${typeof fn}`);
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`alm.${name}: options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  return [options, fn];
}

function optionalString(method: string, field: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'string') {
    throw new TypeError(`alm.${method}: ${field} must be a string, got ${typeof value}`);
  }
}

/** `alm.tool`'s options, checked when the tool is wrapped: a TypeError names the bad field. */
function checkToolOptions(name: string, options: unknown): asserts options is ToolOptions | undefined {
  if (options === undefined) return;
  const at = `alm.tool('${name}')`;
  if (typeof options !== 'object' || options === null) throw new TypeError(`${at}: options must be an object`);
  for (const key of Object.keys(options)) {
    if (key !== 'capture' && key !== 'retry' && key !== 'timeoutMs') {
      throw new TypeError(`${at}: options.${key} is not an option (capture, retry and timeoutMs are)`);
    }
  }
  const capture = (options as ToolOptions).capture;
  if (capture === undefined) return;
  if (typeof capture !== 'object' || capture === null) throw new TypeError(`${at}: options.capture must be an object`);
  for (const [key, value] of Object.entries(capture)) {
    if (key !== 'inputs' && key !== 'outputs') {
      throw new TypeError(`${at}: options.capture.${key} is not an option (inputs and outputs are)`);
    }
    if (typeof value !== 'boolean' && value !== undefined) {
      throw new TypeError(`${at}: options.capture.${key} must be true or false`);
    }
  }
}

/** A framework adapter's tool and its name, checked: a TypeError names the method and what it expected. */
function checkFrameworkTool(method: string, name: unknown, tool: unknown, expected: string): void {
  if (typeof name !== 'string' || name.length === 0) {
    throw new TypeError(`alm.${method}: name must be a non-empty string`);
  }
  if (typeof tool !== 'object' || tool === null) {
    throw new TypeError(`alm.${method}('${name}'): expected ${expected}, got ${tool === null ? 'null' : typeof tool}`);
  }
}

/** Each tool of a tool set (`{ name: tool }`) through `one`, under its key. */
function eachTool<S extends Record<string, object>>(
  method: string,
  tools: S,
  one: (name: string, tool: object) => object,
): S {
  if (typeof tools !== 'object' || tools === null) {
    throw new TypeError(`alm.${method}: expected a tool set object, got ${tools === null ? 'null' : typeof tools}`);
  }
  const wrapped: Record<string, object> = {};
  for (const name of Object.keys(tools)) wrapped[name] = one(name, tools[name]!);
  return wrapped as S;
}

export class ALM {
  /**
   * Add these to your tracer provider (`NodeSDK({ spanProcessors: [...alm.spanProcessors, ...] })`)
   * so that tool spans from other instrumentations are held to the same policy and reach the
   * ALM event stream. alm-otel's own tools are enforced without them.
   */
  readonly spanProcessors: readonly SpanProcessor[];
  readonly agentId: string;
  readonly env: string;
  /** False with `enabled: false` / ALM_ENABLED=false: nothing is observed, policy still applies. */
  readonly enabled: boolean;
  private readonly rt: Runtime;
  private readonly hasBudget: boolean;

  constructor(options: ALMOptions = {}) {
    const config = loadConfig(options);
    const report = createErrorReporter(config.onError);
    const envelope = {
      agentId: config.agentId,
      env: config.env,
      agentVersion: config.agentVersion ?? null,
      policyVersion: config.policyVersion ?? null,
    };
    // No tracer is bound here from the global API: see instrument/tracer.ts.
    const tracer = config.tracerProvider
      ? config.tracerProvider.getTracer(TRACER_NAME, SDK_VERSION)
      : new GlobalTracer(TRACER_NAME, SDK_VERSION);
    // The key (and the endpoint, whose query may hold it too) go to the sink alone, which keeps them
    // in private fields: nothing inspectable holds them.
    const { apiKey: _apiKey, endpoint: _endpoint, ...deliveryOptions } = config.events;
    // Disabled: no sink, so no delivery, no timers and no exit hooks (the pipeline drops records at once).
    const sink = config.enabled ? createSink(config.events, report, config.agentId) : null;
    const events = new EventPipeline(envelope, sink, deliveryOptions, report);
    this.rt = new Runtime(
      envelope,
      tracer,
      new ToolPolicy(config.policy),
      events,
      report,
      config.captureToolContent,
      new ModelPolicy(config.policy, report),
      config.events.llmEvents,
      {
        sensitive: keyFilter(config.redactKeys),
        inputs: config.capture.inputs,
        outputs: config.capture.outputs,
      },
    );
    this.agentId = config.agentId;
    this.env = config.env;
    this.enabled = config.enabled;
    // A budget that can refuse a tool call: its own count, or the run's token or cost spend.
    const { maxToolCallsPerRun, maxTokensPerRun, maxCostPerRun } = config.policy;
    this.hasBudget =
      [maxToolCallsPerRun, maxTokensPerRun, maxCostPerRun].some((limit) => limit !== undefined) ||
      config.policy.budgets.some((budget) => budget.maxToolCalls !== undefined);

    this.spanProcessors = Object.freeze(config.enabled ? [new PolicySpanProcessor(this.rt)] : []);
    const { budgets, store } = config.policy;
    if (budgets.length > 0) {
      this.rt.scoped = new ScopedBudgets(
        budgets,
        store === undefined
          ? new MemoryStore()
          : new RedisStore(
              { redis: store.redis, failMode: store.failMode, timeoutMs: store.timeoutMs, keyPrefix: store.keyPrefix },
              report,
            ),
      );
    }
  }

  /**
   * Run an agent: `fn` runs inside an `invoke_agent` span with a fresh tool-call budget.
   * Returns what `fn` returns (a promise stays a promise) and rethrows its error unchanged.
   */
  run<T>(fn: (run: RunHandle) => T): T;
  run<T>(options: RunOptions, fn: (run: RunHandle) => T): T;
  run<T>(a: RunOptions | ((run: RunHandle) => T), b?: (run: RunHandle) => T): T {
    const [options, fn] = splitArgs<RunOptions, (run: RunHandle) => T>('run', a, b);
    optionalString('run', 'purpose', options.purpose);
    const labels = checkLabels(options.labels);
    const checked = options.labels === undefined ? options : { ...options, labels };
    return this.enabled ? startRun(this.rt, checked, fn) : plainRun(this.rt, fn, labels);
  }

  /** A unit of work inside a run. Returns what `fn` returns and rethrows its error unchanged. */
  task<T>(fn: (task: TaskHandle) => T): T;
  task<T>(options: TaskOptions, fn: (task: TaskHandle) => T): T;
  task<T>(a: TaskOptions | ((task: TaskHandle) => T), b?: (task: TaskHandle) => T): T {
    const [options, fn] = splitArgs<TaskOptions, (task: TaskHandle) => T>('task', a, b);
    optionalString('task', 'type', options.type);
    optionalString('task', 'description', options.description);
    return this.enabled ? startTask(this.rt, options, fn) : plainTask(this.rt, fn);
  }

  /**
   * Wrap a tool. The wrapper has the same signature: a sync tool stays sync. Each call is decided by
   * policy first; a denied call throws ToolDeniedError (an async function's wrapper rejects) and the
   * tool body never runs. A tool's own error is rethrown unchanged. `options`: `capture` (record its
   * arguments / results), `retry` and `timeoutMs` (with either, the wrapper returns a promise).
   */
  tool<F extends AnyFunction>(
    name: string,
    fn: F,
    options: ToolOptions & ({ retry: RetryOptions } | { timeoutMs: number }),
  ): (...args: Parameters<F>) => Promise<Awaited<ReturnType<F>>>;
  tool<F extends AnyFunction>(name: string, fn: F, options?: ToolOptions): F;
  tool(name: string, fn: AnyFunction, options?: ToolOptions): AnyFunction {
    if (typeof name !== 'string' || name.length === 0) throw new TypeError('alm.tool: name must be a non-empty string');
    if (typeof fn !== 'function') throw new TypeError(`alm.tool('${name}'): expected a function, got ${typeof fn}`);
    checkToolOptions(name, options);
    return this.enabled ? wrapTool(this.rt, name, fn, options) : plainTool(this.rt, name, fn, this.hasBudget, options);
  }

  /** How the framework adapters wrap a tool: recorded under the framework's call id, or plain when disabled. */
  private readonly wrapForFramework: WrapForFramework = (name, fn, framework) =>
    this.enabled ? wrapTool(this.rt, name, fn, {}, framework) : plainTool(this.rt, name, fn, this.hasBudget);

  /**
   * A TypeScript 5 standard method decorator that makes the method a tool, as `alm.tool` does:
   * `@alm.toolMethod('search') async search(q: string) { ... }`. The name defaults to the method's.
   */
  toolMethod(
    name: string | undefined,
    options: ToolOptions & ({ retry: RetryOptions } | { timeoutMs: number }),
  ): AsyncToolMethodDecorator;
  toolMethod(name?: string, options?: ToolOptions): ToolMethodDecorator;
  toolMethod(name?: string, options?: ToolOptions): ToolMethodDecorator {
    checkToolOptions(name ?? '(method)', options);
    return toolMethodDecorator((toolName, fn) => this.tool(toolName, fn, options as ToolOptions), name);
  }

  /**
   * Run a model call: `fn(call)` runs inside a GenAI inference span (`chat {model}`), its token usage is
   * read from the result (OpenAI, Anthropic and AI SDK shapes) or set with `call.setUsage`, and it counts
   * toward the run's model-call, token and cost budgets. When a budget is already reached the call is
   * refused with BudgetExceededError (an async function's wrapper rejects) and `fn` never runs. Under
   * a token or cost budget each call holds an estimate (`maxOutputTokens`, else the largest call seen)
   * while in flight, so parallel calls cannot overrun it; an `async function` that finds the room held
   * waits for it (docs/budgets.md). Returns what `fn` returns and rethrows its error unchanged.
   */
  llm<T>(options: LlmOptions, fn: (call: LlmCallHandle) => T): T {
    if (typeof options !== 'object' || options === null) throw new TypeError('alm.llm: options must be an object');
    for (const field of ['provider', 'model'] as const) {
      if (typeof options[field] !== 'string' || options[field].length === 0) {
        throw new TypeError(`alm.llm: ${field} must be a non-empty string`);
      }
    }
    optionalString('llm', 'operation', options.operation);
    for (const field of ['maxOutputTokens', 'inputTokens'] as const) {
      const n = options[field];
      if (n !== undefined && (typeof n !== 'number' || !Number.isInteger(n) || n < 0)) {
        throw new TypeError(`alm.llm: ${field} must be a whole number of tokens, 0 or more`);
      }
    }
    if (typeof fn !== 'function') throw new TypeError(`alm.llm: expected a function to run, got ${typeof fn}`);
    return this.llmForFramework(options, fn);
  }

  /**
   * Wrap a Vercel AI SDK tool (AI SDK 5, 6 or 7: `tool({ inputSchema, execute })`) so that each call is
   * decided and enforced before `execute` runs, recorded under the AI SDK's `toolCallId`, and records
   * only the tool's input (not the `messages` the AI SDK passes besides). Returns a copy; a tool
   * without `execute` is returned unchanged.
   */
  aiSdkTool<T extends object>(name: string, tool: T): T {
    checkFrameworkTool('aiSdkTool', name, tool, 'an AI SDK tool object');
    return wrapAiSdkTool(this.wrapForFramework, name, tool);
  }

  /** `aiSdkTool` for every tool of an AI SDK tool set (`{ name: tool }`), each under its key. */
  aiSdkTools<S extends Record<string, object>>(tools: S): S {
    return eachTool('aiSdkTools', tools, (name, tool) => this.aiSdkTool(name, tool));
  }

  /** How the framework adapters' models begin a model call: the same admission as `alm.llm`. */
  private readonly beginModelCall: BeginModelCall = (options, span, use) =>
    this.enabled ? beginLlm(this.rt, options, use, use, span) : beginPlainLlm(this.rt, options, use, use);

  /**
   * Wrap a Vercel AI SDK language model (AI SDK 5, 6 or 7: a provider's model, or a mock from `ai/test`)
   * so that each `doGenerate` / `doStream` is an alm model call, decided before it starts: once the
   * run's model-call, token or cost budget is reached the call is refused with BudgetExceededError (the
   * AI SDK reports it as the step's error) and the provider is never called. Its usage (a stream's from
   * its `finish` part) counts once, when the provider returns it. With the AI SDK's telemetry on, its
   * model span for the call is decorated rather than a second `chat` span started. Returns a new model;
   * everything else reads through to `model`.
   */
  aiSdkModel<M extends AiSdkLanguageModel>(model: M): M {
    if (typeof model !== 'object' || model === null) {
      throw new TypeError(
        `alm.aiSdkModel: expected an AI SDK language model, got ${model === null ? 'null' : typeof model}`,
      );
    }
    for (const method of ['doGenerate', 'doStream'] as const) {
      if (typeof model[method] !== 'function') {
        throw new TypeError(
          `alm.aiSdkModel: expected a language model object with ${method}() (a model id string must be resolved to a model first)`,
        );
      }
    }
    return wrapAiSdkModel(this.beginModelCall, model);
  }

  /**
   * For AI SDK 7's `toolApproval` option: `generateText({ ..., toolApproval: alm.aiSdkToolApproval })`.
   * Each tool call, wrapped or not, is decided by policy before it runs; a denied call is recorded
   * (under the AI SDK's `toolCallId`) and answered `{ type: 'denied', reason }`, which the model reads
   * as the call's output. Otherwise it answers undefined (`not-applicable`) and the call takes its place
   * in the tool-call budget now, so a step's calls cannot pass it together; the call that runs under
   * that `toolCallId` takes no second one. Combine with your own: `(req) => alm.aiSdkToolApproval(req) ?? mine(req)`.
   */
  readonly aiSdkToolApproval = (request: AiSdkToolApprovalRequest): AiSdkToolApprovalStatus =>
    approveAiSdkToolCall(
      (name, input, toolCallId) => refuseAhead(this.rt, name, input, toolCallId, this.enabled),
      request,
    );

  /**
   * Wrap a LangChain.js tool function, for `tool(alm.langchainTool('name', func), { name, schema })`:
   * `alm.tool` that records only the tool's input (not the RunnableConfig LangChain passes besides),
   * under the model's tool-call id when LangChain has one.
   */
  langchainTool<F extends AnyFunction>(name: string, func: F): F {
    if (typeof name !== 'string' || name.length === 0) {
      throw new TypeError('alm.langchainTool: name must be a non-empty string');
    }
    if (typeof func !== 'function') {
      throw new TypeError(`alm.langchainTool('${name}'): expected a function, got ${typeof func}`);
    }
    return wrapLangchainTool(this.wrapForFramework, name, func);
  }

  /**
   * Wrap an OpenAI Agents JS function tool (`tool({ name, parameters, execute })` from `@openai/agents`):
   * each call is decided before the tool's `invoke` runs, recorded under the SDK's `callId` with only the
   * tool's input, and a denied call's output, which the model reads, is the policy's reason. Returns a
   * copy; any other kind of tool is returned unchanged.
   */
  openaiAgentsTool<T extends object>(tool: T): T {
    if (typeof tool !== 'object' || tool === null) {
      throw new TypeError(`alm.openaiAgentsTool: expected a tool object, got ${tool === null ? 'null' : typeof tool}`);
    }
    return wrapOpenaiAgentsTool(this.wrapForFramework, tool);
  }

  /** `openaiAgentsTool` for every tool of an agent's `tools` array. */
  openaiAgentsTools<T extends readonly object[]>(tools: T): T {
    if (!Array.isArray(tools)) throw new TypeError(`alm.openaiAgentsTools: expected an array of tools`);
    return tools.map((tool: object) => this.openaiAgentsTool(tool)) as unknown as T;
  }

  /**
   * Wrap an OpenAI Agents JS `Model` (`getResponse` / `getStreamedResponse`): each request is a model call
   * as with `alm.llm`, refused with BudgetExceededError before the provider is called once the run's
   * model-call, token or cost budget is reached, its usage counted from the response. `options.model`
   * names the model for `policy.prices` (default: the model's own name, when it exposes one).
   */
  openaiAgentsModel<M extends object>(model: M, options: OpenaiAgentsModelOptions = {}): M {
    const kind = model === null ? 'null' : typeof model;
    if (kind !== 'object' || typeof (model as { getResponse?: unknown }).getResponse !== 'function') {
      throw new TypeError(`alm.openaiAgentsModel: expected a Model with getResponse, got ${kind}`);
    }
    if (typeof options !== 'object' || options === null) {
      throw new TypeError('alm.openaiAgentsModel: options must be an object');
    }
    for (const field of ['model', 'provider'] as const) {
      const value = options[field];
      if (value !== undefined && (typeof value !== 'string' || value.length === 0)) {
        throw new TypeError(`alm.openaiAgentsModel: options.${field} must be a non-empty string`);
      }
    }
    return wrapOpenaiAgentsModel(this.llmForFramework, model, options);
  }

  /** How alm.llm and the framework adapters run a model call (instrumented, or plain when disabled). */
  private readonly llmForFramework: StartModelCall = (options, fn) =>
    this.enabled ? startLlm(this.rt, options, fn) : plainLlm(this.rt, options, fn);

  /**
   * Wrap a Mastra tool (`createTool({ id, inputSchema, execute })`, @mastra/core 1.x) so that each call is
   * decided and enforced before `execute` runs (a denied call never runs; Mastra gives the model the
   * policy's reason as the tool's error), recorded under Mastra's `toolCallId`, with only the tool's
   * input as arguments (not the context Mastra passes besides). Returns a copy; a tool without `execute`
   * is returned unchanged.
   */
  mastraTool<T extends object>(name: string, tool: T): T {
    checkFrameworkTool('mastraTool', name, tool, 'a Mastra tool object');
    return wrapMastraTool(this.wrapForFramework, name, tool);
  }

  /** `mastraTool` for every tool of an agent's tool set (`{ name: tool }`), each under its key. */
  mastraTools<S extends Record<string, object>>(tools: S): S {
    return eachTool('mastraTools', tools, (name, tool) => this.mastraTool(name, tool));
  }

  /**
   * Make an MCP client's tool calls alm tool calls (`@modelcontextprotocol/sdk` 1.x `Client`): each
   * `callTool` is decided before the request is sent (a denied call rejects with ToolDeniedError and
   * never reaches the server), recorded with the tool's arguments on a `tools/call {tool}` CLIENT span,
   * and sends the trace context and baggage, with the run's id, in `params._meta`. Returns the client.
   */
  mcpClient<C extends object>(client: C): C {
    if (
      typeof client !== 'object' ||
      client === null ||
      typeof (client as { callTool?: unknown }).callTool !== 'function'
    ) {
      throw new TypeError('alm.mcpClient: expected an MCP Client (an object with callTool)');
    }
    return wrapMcpClient(this.wrapForFramework, client);
  }

  /**
   * Make an MCP server's tool calls alm tool calls (`@modelcontextprotocol/sdk` 1.x `McpServer`, or a
   * low-level `Server`), for tools registered before or after: each runs under the caller's trace taken
   * from `params._meta`, on a `tools/call {tool}` SERVER span, is decided by this instance's policy (a
   * denied call returns an MCP error result with the reason and the handler never runs), and records
   * under the caller's run id. Returns the server.
   */
  mcpServer<S extends object>(server: S): S {
    const wrapped =
      typeof server === 'object' && server !== null ? wrapMcpServer(this.wrapForFramework, server) : undefined;
    if (wrapped === undefined) {
      throw new TypeError('alm.mcpServer: expected an MCP McpServer or Server (@modelcontextprotocol/sdk 1.x)');
    }
    return wrapped;
  }

  /** Record a hand-over to another agent, in the current run. */
  handoff(options: HandoffOptions): void {
    if (
      typeof options !== 'object' ||
      options === null ||
      typeof options.toAgentId !== 'string' ||
      !options.toAgentId
    ) {
      throw new TypeError('alm.handoff: toAgentId must be a non-empty string');
    }
    optionalString('handoff', 'reason', options.reason);
    if (this.enabled) recordHandoff(this.rt, options);
  }

  /**
   * Inside a tool wrapped with `timeoutMs`: the AbortSignal of the current attempt, aborted with a
   * ToolTimeoutError when the deadline passes (pass it to fetch and the like). Undefined elsewhere.
   */
  signal(): AbortSignal | undefined {
    return this.rt.storage.getStore()?.signal;
  }

  /**
   * What the current run has spent (with its child runs), what model calls in flight hold, and what
   * its budgets (and its enclosing runs') have left; undefined outside a run. Readable from anywhere
   * inside the run: an AI SDK `stopWhen`, an OpenAI Agents guardrail, a tool.
   */
  spent(): RunSpend | undefined {
    const run = this.rt.storage.getStore()?.run;
    return run === undefined ? undefined : spendOf(run, this.rt.models);
  }

  /** The id of the run the caller is in, if any: a local run, or one another process sent (propagation). */
  currentRunId(): string | undefined {
    return this.rt.storage.getStore()?.run?.runId ?? remoteRunId(context.active());
  }

  /** Counts of events emitted, delivered, failed and dropped so far. */
  stats(): PipelineStats {
    return this.rt.events.stats();
  }

  /** Deliver every event queued so far. */
  flush(): Promise<void> {
    return this.rt.events.flush();
  }

  /** Deliver everything, then stop. Calls after shutdown still run and are still policed; their events are dropped and counted. */
  shutdown(): Promise<void> {
    this.rt.stop();
    // The Redis client alm-otel made for a URL is closed; one the application passed is its own.
    const store = this.rt.scoped?.close().catch((error: unknown) => this.rt.report(error));
    return Promise.all([this.rt.events.shutdown(), store]).then(() => undefined);
  }

  /** What `console.log(alm)` and `JSON.stringify(alm)` show: the identity, never the configuration's secrets. */
  toJSON(): { agentId: string; env: string } {
    return { agentId: this.agentId, env: this.env };
  }
}

// util.inspect() (console.log) shows the same. Defined off the class body, so that the published
// types need no Node type declarations (`inspect.custom` is a Node symbol).
Object.defineProperty(ALM.prototype, inspect.custom, {
  value(this: ALM): string {
    return `ALM ${inspect(this.toJSON())}`;
  },
});
