/**
 * `enabled: false` (or ALM_ENABLED=false): nothing is observed. No spans, no events, no timers, no
 * process-exit hooks; a tool the policy can never deny is handed back as the very function it wraps
 * (unless it has `retry` or `timeoutMs`, which change what the agent sees and so still apply).
 *
 * Policy still applies. The switch turns off what alm-otel records, not what it allows: an agent
 * behaves the same with tracking off (a denied tool still throws ToolDeniedError, a budget still
 * stops a run), tests exercise the same decisions production makes, and an environment variable that
 * anyone can set never lifts a deny list. A test that wants no policy passes no policy.
 */
import { randomUUID } from 'node:crypto';
import { context } from '@opentelemetry/api';
import { BudgetExceededError, ToolDeniedError } from '../errors';
import { chargeLlm } from '../policy/budgets';
import { truncateString } from '../events/capture';
import { unpricedModelError, type LlmCallHandle, type LlmOptions, type ModelCall } from './llm';
import type { RunHandle } from './run';
import { RunState } from './run-state';
import type { Runtime } from './runtime';
import { fail, isAsyncFunction, observe } from './settle';
import type { TaskHandle } from './task';
import { resilienceOf, retrying, withTimeout } from './retry';
import type { AnyFunction, ToolOptions } from './tool';
import { usageFromResult, type TokenUsage } from './usage';

/**
 * The tool itself when no decision can deny it (monitor mode, or allowed by name and no budget);
 * otherwise the tool behind a policy check, and nothing else.
 */
export function plainTool<F extends AnyFunction>(
  rt: Runtime,
  name: string,
  fn: F,
  hasBudget: boolean,
  options: ToolOptions = {},
): F {
  // Retries and deadlines change what the agent sees, so they hold while disabled too, as policy does.
  const resilience = resilienceOf(name, options.retry, options.timeoutMs);
  if (resilience !== undefined) {
    const timed = resilience.timeoutMs === undefined ? fn : withTimeout(rt, name, fn, resilience.timeoutMs);
    const attempt = plainTool(rt, name, timed, hasBudget);
    const retried = function (this: unknown, ...args: unknown[]): unknown {
      return retrying(rt, resilience, () => attempt.apply(this, args));
    };
    Object.defineProperty(retried, 'name', { value: fn.name, configurable: true });
    Object.defineProperty(retried, 'length', { value: fn.length, configurable: true });
    return retried as F;
  }
  const rule = rt.policy.ruleFor(name);
  if (!rt.enforcing || (rule.allow && !hasBudget)) return fn;
  const isAsync = isAsyncFunction(fn);
  const shownName = truncateString(name);
  const checked = function (this: unknown, ...args: unknown[]): unknown {
    const decision = rt.policy.decide(rule, rt.storage.getStore()?.run, true);
    if (!decision.allow) {
      const denied = new ToolDeniedError(shownName, randomUUID(), decision.reason, decision.details);
      if (isAsync) return Promise.reject(denied);
      throw denied;
    }
    return fn.apply(this, args);
  };
  Object.defineProperty(checked, 'name', { value: fn.name, configurable: true });
  Object.defineProperty(checked, 'length', { value: fn.length, configurable: true });
  return checked as F;
}

/** A run without a span or events; it keeps its scope, so its budget and `currentRunId()` still hold. */
export function plainRun<T>(rt: Runtime, fn: (run: RunHandle) => T): T {
  const state = new RunState(randomUUID(), rt.storage.getStore()?.run, rt.models.priced);
  const handle: RunHandle = { runId: state.runId, traceId: null, spanId: null };
  rt.enterScope();
  return observe(
    () => rt.storage.run({ run: state, otelContext: context.active() }, () => fn(handle)),
    () => rt.exitScope(),
  );
}

/** A task without a span or events: just the function. */
export function plainTask<T>(rt: Runtime, fn: (task: TaskHandle) => T): T {
  return fn({ taskId: randomUUID(), runId: rt.storage.getStore()?.run?.runId ?? null });
}

/**
 * A model call without a span, events or metrics: its budgets still hold (refused when reached, and
 * its usage, from the result or `call.setUsage`, counted toward the run and every enclosing run).
 */
/** `beginLlm` with nothing observed: the budgets decide and count, no span, no events. */
export function beginPlainLlm(rt: Runtime, options: LlmOptions): ModelCall | Error {
  const run = rt.storage.getStore()?.run;
  const unpriced = unpricedModelError(rt, options.model);
  if (unpriced !== undefined) return unpriced;
  const exceeded = rt.models.exceeded(run);
  if (exceeded !== undefined && rt.enforcing) return new BudgetExceededError(exceeded);
  chargeLlm(run, 1, 0, 0);
  run?.recordLlmCall();
  let counted: TokenUsage = { inputTokens: 0, outputTokens: 0 };
  let explicit = false;
  const count = (usage: TokenUsage) => {
    rt.models.charge(run, options.model, undefined, counted, usage, rt.report);
    counted = usage;
  };
  return {
    llmCallId: randomUUID(),
    otelContext: context.active(),
    setUsage(usage) {
      explicit = true;
      count({ inputTokens: Math.max(0, usage.inputTokens ?? 0), outputTokens: Math.max(0, usage.outputTokens ?? 0) });
    },
    setResponse() {},
    finish(failed, outcome) {
      if (failed || explicit) return;
      const usage = usageFromResult(outcome);
      if (usage !== undefined) count(usage);
    },
  };
}

export function plainLlm<T>(rt: Runtime, options: LlmOptions, fn: (call: LlmCallHandle) => T): T {
  const call = beginPlainLlm(rt, options);
  if (call instanceof Error) return fail(fn, call);
  return observe(
    () => fn(call),
    (failed, outcome) => call.finish(failed, outcome),
  );
}
