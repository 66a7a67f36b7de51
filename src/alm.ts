/**
 * ALM: the entry point. Wires configuration, policy, the event pipeline and the tracer together,
 * and exposes run / task / tool / handoff. Everything it needs from OpenTelemetry comes through
 * `@opentelemetry/api`; it never registers globals.
 */
import type { SpanProcessor } from './otel-types';
import { loadConfig } from './config/load';
import type { ALMOptions } from './config/schema';
import { EventPipeline, type PipelineStats } from './events/pipeline';
import { type HandoffOptions, recordHandoff } from './instrument/handoff';
import { startRun, type RunHandle, type RunOptions } from './instrument/run';
import { Runtime } from './instrument/runtime';
import { GlobalTracer } from './instrument/tracer';
import { startTask, type TaskHandle, type TaskOptions } from './instrument/task';
import { wrapTool, type AnyFunction } from './instrument/tool';
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

export class ALM {
  /**
   * Add these to your tracer provider (`NodeSDK({ spanProcessors: [...alm.spanProcessors, ...] })`)
   * so that tool spans from other instrumentations are held to the same policy and reach the
   * ALM event stream. alm-otel's own tools are enforced without them.
   */
  readonly spanProcessors: readonly SpanProcessor[];
  readonly agentId: string;
  readonly env: string;
  private readonly rt: Runtime;

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
    const events = new EventPipeline(envelope, createSink(config.events, report), config.events, report);
    this.rt = new Runtime(envelope, tracer, new ToolPolicy(config.policy), events, report, config.captureToolContent);
    this.agentId = config.agentId;
    this.env = config.env;
    this.spanProcessors = Object.freeze([new PolicySpanProcessor(this.rt)]);
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
    return startRun(this.rt, options, fn);
  }

  /** A unit of work inside a run. Returns what `fn` returns and rethrows its error unchanged. */
  task<T>(fn: (task: TaskHandle) => T): T;
  task<T>(options: TaskOptions, fn: (task: TaskHandle) => T): T;
  task<T>(a: TaskOptions | ((task: TaskHandle) => T), b?: (task: TaskHandle) => T): T {
    const [options, fn] = splitArgs<TaskOptions, (task: TaskHandle) => T>('task', a, b);
    optionalString('task', 'type', options.type);
    optionalString('task', 'description', options.description);
    return startTask(this.rt, options, fn);
  }

  /**
   * Wrap a tool. The wrapper has the same signature: a sync tool stays sync. Each call is decided by
   * policy first; a denied call throws ToolDeniedError (an async function's wrapper rejects) and the
   * tool body never runs. A tool's own error is rethrown unchanged.
   */
  tool<F extends AnyFunction>(name: string, fn: F): F {
    if (typeof name !== 'string' || name.length === 0) throw new TypeError('alm.tool: name must be a non-empty string');
    if (typeof fn !== 'function') throw new TypeError(`alm.tool('${name}'): expected a function, got ${typeof fn}`);
    return wrapTool(this.rt, name, fn);
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
    recordHandoff(this.rt, options);
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
    return this.rt.events.shutdown();
  }
}
