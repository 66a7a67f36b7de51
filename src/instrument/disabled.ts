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
import { newId } from '../ids';
import { context } from '@opentelemetry/api';
import { ToolDeniedError } from '../errors';
import { truncateString } from '../events/capture';
import { CallUsage, admitted, type LlmCallHandle, type LlmOptions, type ModelCall } from './llm';
import { runHandle, type RunHandle } from './run';
import { RunState } from './run-state';
import type { Runtime } from './runtime';
import { isAsyncFunction, observe } from './settle';
import type { TaskHandle } from './task';
import { resilienceOf, retrying, withTimeout } from './retry';
import { admitScopedTool, type AnyFunction, type ToolOptions } from './tool';
import type { PolicyDecision } from '../policy/rules';
import { responseFromResult, usageFromResult } from './usage';

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
    const run = rt.storage.getStore()?.run;
    if (run?.ended) rt.detached = true; // see Runtime.detached
    let decision = rt.policy.decide(rule, run, true);
    const scoped = rt.scoped;
    if (decision.allow && scoped !== undefined && scoped.tools) {
      // Budgets by scope and window hold while disabled too; with a shared store the call waits for them.
      const verdict = admitScopedTool(rt, scoped, run, decision);
      if (verdict instanceof Promise) {
        return verdict.then((d) => (d.allow ? fn.apply(this, args) : Promise.reject(deniedBy(shownName, d))));
      }
      decision = verdict;
    }
    if (!decision.allow) {
      const denied = deniedBy(shownName, decision);
      if (isAsync) return Promise.reject(denied);
      throw denied;
    }
    return fn.apply(this, args);
  };
  Object.defineProperty(checked, 'name', { value: fn.name, configurable: true });
  Object.defineProperty(checked, 'length', { value: fn.length, configurable: true });
  return checked as F;
}

function deniedBy(toolName: string, decision: PolicyDecision): ToolDeniedError {
  return new ToolDeniedError(toolName, newId(), decision.reason, decision.details);
}

/** A run without a span or events; it keeps its scope, so its budgets (scoped ones too) and `currentRunId()` still hold. */
export function plainRun<T>(rt: Runtime, fn: (run: RunHandle) => T, labels?: Readonly<Record<string, string>>): T {
  const parent = rt.storage.getStore()?.run;
  const state = new RunState(randomUUID(), parent, rt.models.priced);
  state.labels = labels === undefined ? parent?.labels : { ...parent?.labels, ...labels };
  const handle = runHandle(rt, state, null, null);
  rt.enterScope();
  return observe(
    () => rt.storage.run({ run: state, otelContext: context.active() }, () => fn(handle)),
    () => {
      state.end();
      rt.exitScope();
    },
  );
}

/** A task without a span or events: just the function. */
export function plainTask<T>(rt: Runtime, fn: (task: TaskHandle) => T): T {
  return fn({ taskId: newId(), runId: rt.storage.getStore()?.run?.runId ?? null });
}

/**
 * A model call without a span, events or metrics (`beginLlm` with nothing observed): its budgets still
 * hold (admitted as alm.llm's are, and its usage, from the result, the error it threw or
 * `call.setUsage`, counted toward the run and every enclosing run).
 */
export function beginPlainLlm<T>(rt: Runtime, options: LlmOptions, fn: unknown, use: (call: ModelCall) => T): T {
  const run = rt.storage.getStore()?.run;
  return admitted(rt, run, options, fn, (ticket) => {
    const usage = new CallUsage(ticket, run, () => {});
    return use({
      llmCallId: newId(),
      otelContext: context.active(),
      setUsage: (u) => usage.set(u, undefined),
      setResponse() {},
      finish(_failed, outcome) {
        try {
          usage.finish(usageFromResult(outcome), responseFromResult(outcome).model);
        } catch (error) {
          rt.report(error);
        }
      },
    });
  });
}

export function plainLlm<T>(rt: Runtime, options: LlmOptions, fn: (call: LlmCallHandle) => T): T {
  return beginPlainLlm(rt, options, fn, (call) =>
    observe(
      () => fn(call),
      (failed, outcome) => call.finish(failed, outcome),
    ),
  );
}
