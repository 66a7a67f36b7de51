/**
 * ALM: the entry point. Wires configuration, policy, the event pipeline and the tracer together,
 * and exposes run / task / tool / handoff. Everything it needs from OpenTelemetry comes through
 * `@opentelemetry/api`; it never registers globals.
 */
import { inspect } from 'node:util';
import { trace } from '@opentelemetry/api';
import type { SpanProcessor } from '@opentelemetry/sdk-trace';
import { loadConfig } from './config/load';
import type { ALMOptions } from './config/schema';
import { keyFilter } from './events/capture';
import { EventPipeline, type PipelineStats } from './events/pipeline';
import { toolMethodDecorator, type AsyncToolMethodDecorator, type ToolMethodDecorator } from './instrument/decorators';
import { plainRun, plainTask, plainTool } from './instrument/disabled';
import { type HandoffOptions, recordHandoff } from './instrument/handoff';
import { startRun, type RunHandle, type RunOptions } from './instrument/run';
import { Runtime } from './instrument/runtime';
import { startTask, type TaskHandle, type TaskOptions } from './instrument/task';
import type { RetryOptions } from './instrument/retry';
import { wrapTool, type AnyFunction, type ToolOptions } from './instrument/tool';
import { PolicySpanProcessor } from './policy/processor';
import { ToolPolicy } from './policy/rules';
import { createErrorReporter } from './report';
import { createSink } from './sinks';
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
    const tracer = config.tracerProvider
      ? config.tracerProvider.getTracer(TRACER_NAME, SDK_VERSION)
      : trace.getTracer(TRACER_NAME, SDK_VERSION);
    // The key (and the endpoint, whose query may hold it too) go to the sink alone, which keeps them
    // in private fields: nothing inspectable holds them.
    const { apiKey: _apiKey, endpoint: _endpoint, ...deliveryOptions } = config.events;
    // Disabled: no sink, so no delivery, no timers and no exit hooks (the pipeline drops records at once).
    const sink = config.enabled ? createSink(config.events, report) : null;
    const events = new EventPipeline(envelope, sink, deliveryOptions, report);
    this.rt = new Runtime(envelope, tracer, new ToolPolicy(config.policy), events, report, config.captureToolContent, {
      sensitive: keyFilter(config.redactKeys),
      inputs: config.capture.inputs,
      outputs: config.capture.outputs,
    });
    this.agentId = config.agentId;
    this.env = config.env;
    this.enabled = config.enabled;
    this.hasBudget = config.policy.maxToolCallsPerRun !== undefined;
    this.spanProcessors = Object.freeze(config.enabled ? [new PolicySpanProcessor(this.rt)] : []);
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
    return this.enabled ? startRun(this.rt, options, fn) : plainRun(this.rt, fn);
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

  /** The id of the run the caller is in, if any. */
  currentRunId(): string | undefined {
    return this.rt.storage.getStore()?.run?.runId;
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
    return this.rt.events.shutdown();
  }

  /** What `console.log(alm)` and `JSON.stringify(alm)` show: the identity, never the configuration's secrets. */
  toJSON(): { agentId: string; env: string } {
    return { agentId: this.agentId, env: this.env };
  }

  [inspect.custom](): string {
    return `ALM ${inspect(this.toJSON())}`;
  }
}
