/**
 * `alm.tool`: the hot path. One call decides policy, opens an execute_tool span, queues its record,
 * runs the tool (or refuses to), and closes the span. No I/O, no event building, no validation here:
 * events are built from the record later, off the agent's path (see bench/ for what it costs).
 */
import { SpanKind, context, trace, type Attributes, type Context } from '@opentelemetry/api';
import { ToolDeniedError } from '../errors';
import {
  WITHHELD_INPUTS,
  WITHHELD_OUTPUTS,
  captureArguments,
  captureValue,
  safeJson,
  truncateString,
} from '../events/capture';
import { toStructuredError, type StructuredError } from '../events/errors';
import { Phase } from '../events/pipeline';
import { chargeToolCalls } from '../policy/budgets';
import { claimForeign } from '../policy/foreign';
import { BudgetStoreError } from '../policy/redis-store';
import type { PolicyDecision } from '../policy/rules';
import { ScopedBudgets, callScope, type ScopedBudgetDetails } from '../policy/scoped';
import * as sc from '../semconv';
import { newId } from '../ids';
import { now } from './clock';
import { adoptRemoteRun } from './remote-run';
import { Operation, emit } from './operation';
import type { ToolRecord, ToolStatus } from '../events/record';
import type { RunState } from './run-state';
import type { Runtime } from './runtime';
import { resilienceOf, retrying, withTimeout, type RetryOptions } from './retry';
import { isAsyncFunction, isThenable, observe } from './settle';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyFunction = (...args: any[]) => any;

/** Per-tool options: `alm.tool(name, fn, options)`. */
export interface ToolOptions {
  /** Record this tool's arguments (`inputs`) and results (`outputs`); each defaults to the instance's `capture`. */
  capture?: { inputs?: boolean; outputs?: boolean };
  /** Try again after a retryable error: each attempt its own call, under one tool_call_id. */
  retry?: RetryOptions;
  /** Abandon an attempt whose promise has not settled after this long, with a ToolTimeoutError. */
  timeoutMs?: number;
}

// Hoisted once: reading constants off another module's exports object on every call is measurably slower.
const {
  ATTR_GEN_AI_TOOL_CALL_ARGUMENTS: ARGUMENTS,
  ATTR_GEN_AI_TOOL_CALL_RESULT: RESULT,
  ATTR_ALM_POLICY_DECISION: DECISION,
  ATTR_ALM_POLICY_REASON: REASON,
  ATTR_ALM_POLICY_VIOLATION: VIOLATION,
  ATTR_ALM_TOOL_STATUS: STATUS,
  ATTR_ALM_TOOL_ATTEMPT: ATTEMPT,
  EVENT_POLICY_DECISION,
} = sc;
const EXECUTE_TOOL = sc.GEN_AI_OPERATION_NAME_VALUE_EXECUTE_TOOL;
const FUNCTION = sc.GEN_AI_TOOL_TYPE_VALUE_FUNCTION;

interface ToolDefinition {
  readonly name: string;
  readonly spanName: string;
  /** The name-only part of the policy decision, fixed when the tool is wrapped. */
  readonly rule: PolicyDecision;
  /** Denials of an `async function` reject rather than throw, as the function itself would. */
  readonly isAsync: boolean;
  readonly fn: AnyFunction;
  readonly framework: FrameworkCalls | undefined;
  /** Arguments and results recorded (else replaced by a marker saying they were withheld). */
  readonly inputs: boolean;
  readonly outputs: boolean;
}

/** How an agent framework calls a tool it was given (adapters/): what is input, and its call id. */
export interface FrameworkCalls {
  /** The arguments to record: the tool's own input, not what the framework passes besides. */
  input(args: unknown[]): unknown[];
  /** The framework's id for this call, when it passes one. */
  callId(args: unknown[]): string | undefined;
  // The rest is for protocols whose calls cross processes (adapters/mcp.ts).
  /** The span's name and kind (default `execute_tool {name}`, INTERNAL). */
  readonly span?: { readonly name: (tool: string) => string; readonly kind: SpanKind };
  /** Attributes of this call for its span (a request id, a session id). */
  attributes?(args: unknown[]): Attributes;
  /** The caller's context sent with the call (a server's request), to run it under; undefined if none. */
  remoteParent?(args: unknown[], active: Context): Context | undefined;
  /** The arguments the tool function is called with, given the call's context (to send it on). */
  prepare?(args: unknown[], callContext: Context): unknown[];
  /** A result that reports a failure (MCP's `isError`): the call's error. */
  failure?(result: unknown): StructuredError | undefined;
}

export function wrapTool<F extends AnyFunction>(
  rt: Runtime,
  fullName: string,
  fn: F,
  options: ToolOptions = {},
  framework?: FrameworkCalls,
): F {
  // Policy sees the whole name; spans and events carry it bounded like any other captured string.
  const name = truncateString(fullName);
  const tool: ToolDefinition = {
    name,
    spanName: framework?.span === undefined ? `execute_tool ${name}` : framework.span.name(name),
    rule: rt.policy.ruleFor(fullName),
    isAsync: isAsyncFunction(fn),
    fn,
    framework,
    inputs: options.capture?.inputs ?? rt.content.inputs,
    outputs: options.capture?.outputs ?? rt.content.outputs,
  };
  const resilience = resilienceOf(fullName, options.retry, options.timeoutMs);
  let wrapped: (this: unknown, ...args: unknown[]) => unknown;
  if (resilience === undefined) {
    wrapped = function (this: unknown, ...args: unknown[]): unknown {
      return callTool(rt, tool, this, args);
    };
  } else {
    // Each attempt is a whole call (decision, span, events); the deadline applies inside it, so a
    // timed-out attempt's span ends with the ToolTimeoutError as the tool's own error.
    const attempt: ToolDefinition =
      resilience.timeoutMs === undefined ? tool : { ...tool, fn: withTimeout(rt, name, fn, resilience.timeoutMs) };
    wrapped = function (this: unknown, ...args: unknown[]): unknown {
      // One id for every attempt: the first attempt's (a framework span's it joined, the framework's own, or new).
      const shared: SharedCallId = { id: undefined };
      return retrying(rt, resilience, (n) => callTool(rt, attempt, this, args, shared, n));
    };
  }
  Object.defineProperty(wrapped, 'name', { value: fn.name, configurable: true });
  Object.defineProperty(wrapped, 'length', { value: fn.length, configurable: true });
  return wrapped as F;
}

function startAttributes(
  tool: ToolDefinition,
  toolCallId: string,
  run: RunState | undefined,
  decision: PolicyDecision,
  blocked: boolean,
  attempt: number,
  extra: Attributes | undefined,
): Attributes {
  // Written-out keys (sc.ATTR_GEN_AI_OPERATION_NAME, ..._TOOL_NAME, ..._TOOL_CALL_ID, ..._TOOL_TYPE,
  // sc.ATTR_ALM_RUN_ID, sc.ATTR_ALM_POLICY_DECISION): an object literal with constant keys is built from a
  // template; computed keys cost a property definition each.
  const attributes: Attributes = {
    'gen_ai.operation.name': EXECUTE_TOOL,
    'gen_ai.tool.name': tool.name,
    'gen_ai.tool.call.id': toolCallId,
    'gen_ai.tool.type': FUNCTION,
    'alm.run.id': run?.runId,
    'alm.policy.decision': decision.allow ? 'allow' : 'deny',
  };
  if (!decision.allow) {
    attributes[REASON] = decision.reason;
    if (!blocked) attributes[VIOLATION] = true;
  }
  if (attempt > 1) attributes[ATTEMPT] = attempt;
  // A protocol's own attributes (adapters/mcp.ts) never replace these.
  return extra === undefined ? attributes : { ...extra, ...attributes };
}

/** One call: its span and its event record, in one fixed-shape object. */
class ToolCall extends Operation implements ToolRecord {
  readonly kind = 'tool';
  readonly retries: number;
  readonly toolName: string;
  readonly decision: 'allow' | 'deny';
  readonly reason: string;
  readonly outputs: boolean;
  args: unknown;
  status: ToolStatus = 'success';
  toolMs = 0;
  result: unknown = undefined;
  error: StructuredError | undefined = undefined;

  constructor(
    rt: Runtime,
    tool: ToolDefinition,
    readonly toolCallId: string,
    readonly run: RunState | undefined,
    decision: PolicyDecision,
    blocked: boolean,
    readonly policyMs: number,
    parent: Context,
    startTime: number,
    readonly attempt: number,
    extra: Attributes | undefined,
  ) {
    // Only what identifies the call and its decision goes on the span at start; latencies, and
    // content unless captureToolContent, stay in the record. (The SDK walks these attributes twice, so
    // an allowed call's carry no empty keys.)
    super(
      rt,
      tool.spanName,
      startAttributes(tool, toolCallId, run, decision, blocked, attempt, extra),
      parent,
      startTime,
      run?.runId ?? null,
      tool.framework?.span?.kind ?? SpanKind.INTERNAL,
    );
    this.toolName = tool.name;
    this.outputs = tool.outputs;
    this.retries = attempt - 1;
    this.decision = decision.allow ? 'allow' : 'deny';
    this.reason = decision.reason;
    // A denial is also a span event (a log in a trace viewer); an allowed call's decision is its
    // attribute alone (an event on every call cost about a fifth of the span).
    if (!decision.allow) this.addSpanEvent(EVENT_POLICY_DECISION, { [DECISION]: 'deny', [REASON]: decision.reason });
  }

  captureArguments(rt: Runtime, args: unknown[], inputs: boolean): void {
    this.args = inputs ? captureArguments(args, rt.content.sensitive) : WITHHELD_INPUTS;
    if (rt.captureToolContent) this.setSpanAttribute(ARGUMENTS, safeJson(this.args));
  }

  /** `toolStart` is when the body began; undefined when it never ran (denied). */
  finish(
    rt: Runtime,
    status: ToolStatus,
    toolStart: number | undefined,
    error: StructuredError | undefined,
    outcome: unknown,
  ): void {
    try {
      const endTime = now();
      const toolMs = toolStart === undefined ? 0 : endTime - toolStart;
      this.run?.recordToolCall(this.decision === 'allow', status, toolMs, this.policyMs);
      if (this.retries > 0 && this.run !== undefined) this.run.retried++;
      this.status = status;
      this.toolMs = toolMs;
      this.setSpanAttribute(STATUS, status);
      if (error !== undefined) {
        this.error = error;
        this.markSpanFailed(error, outcome);
      } else if (outcome !== undefined && outcome !== null) {
        this.result = this.outputs ? captureValue(outcome, rt.content.sensitive) : WITHHELD_OUTPUTS;
        if (rt.captureToolContent) this.setSpanAttribute(RESULT, safeJson(this.result));
      }
      this.endSpan(endTime);
      emit(rt, this.run, this, Phase.End);
      rt.metrics.toolCall(
        this.toolName,
        this.decision,
        toolStart === undefined ? undefined : toolMs / 1000,
        error?.type,
      );
    } catch (failure) {
      rt.report(failure);
    }
  }
}

/** The id every attempt of a retried call carries, fixed by its first attempt. */
interface SharedCallId {
  id: string | undefined;
}

/**
 * A framework hook's answer for a call (its call id, the caller's context): a hook that throws, on a
 * throwing getter in what the framework passed, costs the answer, not the call.
 */
function ask<R>(
  rt: Runtime,
  framework: FrameworkCalls,
  hook: (this: FrameworkCalls, args: unknown[], active: Context) => R,
  args: unknown[],
): R | undefined {
  try {
    return hook.call(framework, args, context.active());
  } catch (error) {
    rt.report(error);
    return undefined;
  }
}

/** A blocked call ends denied: its record and span say so; returns the error the caller gets. */
function refused(
  rt: Runtime,
  tool: ToolDefinition,
  call: ToolCall | undefined,
  run: RunState | undefined,
  decision: PolicyDecision,
  toolCallId: string,
  policyMs: number,
): ToolDeniedError {
  const denied = new ToolDeniedError(tool.name, toolCallId, decision.reason, decision.details);
  if (decision.details !== undefined) rt.metrics.budgetExceeded(decision.details.budget);
  // Denials carry the reference SDK's error type, so ALM backends see what they expect.
  const error: StructuredError = {
    type: 'PermissionError',
    message: denied.message,
    source: 'policy',
    retryable: false,
  };
  if (call !== undefined) call.finish(rt, 'denied', undefined, error, denied);
  else run?.recordToolCall(false, 'denied', 0, policyMs);
  return denied;
}

/**
 * A tool call a framework asks about before running it (AI SDK 7's `toolApproval`), for tools alm does
 * not wrap. When policy refuses it (enforce mode), it is recorded here as a denied call (span and
 * events, under the framework's call id, with `input` as its arguments) and the refusal is returned: the
 * framework must not run it. An allowed call is only looked at, not counted: running it counts it (its
 * alm wrapper, or another instrumentation's tool span). `observed` false (disabled mode): decided only.
 */
export function refuseAhead(
  rt: Runtime,
  fullName: string,
  input: unknown,
  frameworkCallId: string | undefined,
  observed: boolean,
): ToolDeniedError | undefined {
  if (!rt.enforcing) return undefined;
  const startTime = now();
  const scope = rt.storage.getStore();
  const run = scope?.run ?? adoptRemoteRun(rt, context.active());
  const rule = rt.policy.ruleFor(fullName);
  const decision = rt.policy.decide(rule, run, true);
  if (decision.allow) {
    // decide() took the call's slot. It keeps it, so that the calls of one step, all asked about before
    // any runs, cannot pass the budget together: the execution under this call id (its alm wrapper, or
    // the framework's own tool span) takes no second one. Without an id to match, or disabled (whose
    // wrappers know no call ids), the execution takes the slot instead.
    if (observed && run !== undefined && frameworkCallId !== undefined) {
      // The framework starts the calls it runs within the same turn of the event loop; a call it did
      // not start by the next turn (an approver after alm declined it) gives its slot back then.
      if (!run.awaitingApproved) setImmediate(() => chargeToolCalls(run, -run.releaseApproved()));
      run.approve(frameworkCallId);
    } else chargeToolCalls(run, -1);
    return undefined;
  }
  const name = truncateString(fullName);
  const toolCallId = frameworkCallId === undefined ? newId() : truncateString(frameworkCallId);
  const policyMs = now() - startTime;
  const tool: ToolDefinition = {
    name,
    spanName: `execute_tool ${name}`,
    rule,
    isAsync: false,
    fn: () => undefined,
    framework: undefined,
    inputs: rt.content.inputs,
    outputs: rt.content.outputs,
  };
  if (!observed) return new ToolDeniedError(name, toolCallId, decision.reason, decision.details);
  let call: ToolCall | undefined;
  try {
    const parent = rt.parentContext(scope);
    call = new ToolCall(rt, tool, toolCallId, run, decision, true, policyMs, parent, startTime, 1, undefined);
    call.captureArguments(rt, [input], tool.inputs);
    emit(rt, run, call, Phase.Start);
  } catch (error) {
    rt.report(error);
    call = undefined;
  }
  return refused(rt, tool, call, run, decision, toolCallId, policyMs);
}

function callTool(
  rt: Runtime,
  tool: ToolDefinition,
  self: unknown,
  args: unknown[],
  /** Given for the attempts of a retried call: the first attempt's id, which the later ones reuse. */
  shared?: SharedCallId,
  attempt = 1,
): unknown {
  const startTime = now();
  const scope = rt.storage.getStore();
  const framework = tool.framework;
  const remote = framework?.remoteParent === undefined ? undefined : ask(rt, framework, framework.remoteParent, args);
  const active = remote ?? context.active();
  // No local run open: the run the caller's context names, if another process sent one.
  const run = scope?.run ?? adoptRemoteRun(rt, active);
  const activeSpan = trace.getSpan(active);
  const parent = remote ?? rt.parentContext(scope, active, activeSpan);
  // Inside another instrumentation's tool span (an agent framework running this tool), it is the same
  // call: the policy SpanProcessor's decision for it is reused, now enforceable, under its call id.
  const outer = activeSpan === undefined ? undefined : rt.foreignCalls.get(activeSpan);
  const claim = outer === undefined ? undefined : claimForeign(rt, tool.name, tool.rule, run, outer);
  const decision =
    claim?.decision ??
    rt.policy.decide(
      tool.rule,
      run,
      rt.enforcing,
      run?.awaitingApproved === true && run.takeApproved(approvedCallId(rt, framework, args)),
    );
  const scoped = rt.scoped;
  if (scoped !== undefined && scoped.tools && (decision.allow || !rt.enforcing)) {
    // Budgets by scope and window (policy.budgets): with a shared store the decision waits for it, so
    // the call's wrapper returns a promise.
    const verdict = admitScopedTool(rt, scoped, run, decision);
    if (verdict instanceof Promise) {
      return verdict.then((d) =>
        proceed(rt, tool, self, args, shared, attempt, startTime, run, parent, claim, d, true),
      );
    }
    return proceed(rt, tool, self, args, shared, attempt, startTime, run, parent, claim, verdict, false);
  }
  return proceed(rt, tool, self, args, shared, attempt, startTime, run, parent, claim, decision, false);
}

/**
 * The call id a framework asked about ahead under (refuseAhead): its adapter's, or, for a tool it runs
 * without one, the AI SDK's `execute(input, { toolCallId })`.
 */
function approvedCallId(rt: Runtime, framework: FrameworkCalls | undefined, args: unknown[]): string | undefined {
  if (framework !== undefined) return ask(rt, framework, framework.callId, args);
  try {
    const id = (args[1] as { toolCallId?: unknown } | null | undefined)?.toolCallId;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined; // a getter that throws: no id
  }
}

/**
 * The scoped budgets' word on a call the local policy lets run: the same decision when they admit it,
 * a denial (its local allowance given back) when one of them is reached or cannot be checked.
 */
export function admitScopedTool(
  rt: Runtime,
  scoped: ScopedBudgets,
  run: RunState | undefined,
  decision: PolicyDecision,
): PolicyDecision | Promise<PolicyDecision> {
  const refused = (reason: string, details: ScopedBudgetDetails | undefined): PolicyDecision => {
    // Monitor mode: the call runs over the budget, flagged, and counts where it could not be admitted.
    if (rt.enforcing && run !== undefined) chargeToolCalls(run, -1);
    return decision.allow ? { allow: false, reason, details } : decision;
  };
  const verdict = (details: ScopedBudgetDetails | undefined): PolicyDecision =>
    details === undefined ? decision : refused(ScopedBudgets.reason(details), details);
  const unavailable = (error: unknown): PolicyDecision => {
    if (!(error instanceof BudgetStoreError)) rt.report(error);
    return refused(error instanceof BudgetStoreError ? error.message : 'the budget could not be checked', undefined);
  };
  try {
    const result = scoped.admitTool(callScope(rt.envelope.agentId, run));
    return result instanceof Promise ? result.then(verdict, unavailable) : verdict(result);
  } catch (error) {
    return unavailable(error);
  }
}

function proceed(
  rt: Runtime,
  tool: ToolDefinition,
  self: unknown,
  args: unknown[],
  shared: SharedCallId | undefined,
  attempt: number,
  startTime: number,
  run: RunState | undefined,
  parent: Context,
  claim: ReturnType<typeof claimForeign>,
  decision: PolicyDecision,
  /** Decided asynchronously (a shared store): a denial rejects, whatever the tool is. */
  waited: boolean,
): unknown {
  const framework = tool.framework;
  const toolStart = now();
  const policyMs = toolStart - startTime;
  const blocked = !decision.allow && rt.enforcing;
  const adopted =
    shared?.id ??
    claim?.toolCallId ??
    (framework === undefined ? undefined : ask(rt, framework, framework.callId, args));
  const toolCallId = adopted === undefined ? newId() : truncateString(adopted);
  if (shared !== undefined) shared.id = toolCallId;

  let call: ToolCall | undefined;
  try {
    const extra = framework?.attributes === undefined ? undefined : framework.attributes(args);
    call = new ToolCall(rt, tool, toolCallId, run, decision, blocked, policyMs, parent, startTime, attempt, extra);
    call.captureArguments(rt, framework === undefined ? args : framework.input(args), tool.inputs);
    if (rt.lateToolSpans.open > 0 && run !== undefined) rt.lateToolSpans.note(call);
    emit(rt, run, call, Phase.Start);
  } catch (error) {
    // Instrumentation failed; the policy decision above still stands.
    rt.report(error);
    call = undefined;
  }

  if (blocked) {
    const denied = refused(rt, tool, call, run, decision, toolCallId, policyMs);
    if (tool.isAsync || waited) return Promise.reject(denied);
    throw denied;
  }
  if (call === undefined) return tool.fn.apply(self, args);
  if (framework !== undefined && (framework.prepare !== undefined || framework.failure !== undefined)) {
    return callPrepared(rt, tool, framework, call, self, args, toolStart);
  }

  // settle.ts's observe(), written out so that the hot path allocates no closures per call.
  let result: unknown;
  try {
    result = context.with(call.otelContext, tool.fn, self, ...args);
  } catch (thrown) {
    call.finish(rt, 'error', toolStart, toStructuredError(thrown, 'tool', rt.content.sensitive), thrown);
    throw thrown;
  }
  if (!isThenable(result)) {
    call.finish(rt, 'success', toolStart, undefined, result);
    return result;
  }
  // A derived promise, not the tool's own: a reaction with a rejection handler on the tool's promise
  // would mark it handled, and a rejection nobody awaits would no longer be reported as unhandled,
  // as it is without alm.
  const settled = call;
  return result.then(
    (value) => {
      settled.finish(rt, 'success', toolStart, undefined, value);
      return value;
    },
    (thrown: unknown) => {
      settled.finish(rt, 'error', toolStart, toStructuredError(thrown, 'tool', rt.content.sensitive), thrown);
      throw thrown;
    },
  );
}

/**
 * A call whose arguments carry its context on (`prepare`), and whose result may report a failure
 * (`failure`): a protocol client's or server's call (adapters/mcp.ts). Off alm.tool's hot path.
 */
function callPrepared(
  rt: Runtime,
  tool: ToolDefinition,
  framework: FrameworkCalls,
  call: ToolCall,
  self: unknown,
  args: unknown[],
  toolStart: number,
): unknown {
  let sent = args;
  try {
    const span = trace.getSpan(call.otelContext);
    if (span !== undefined) rt.protocolCalls.set(span, call);
    if (framework.prepare !== undefined) sent = framework.prepare(args, call.otelContext);
  } catch (error) {
    rt.report(error);
  }
  return observe(
    () => context.with(call.otelContext, tool.fn, self, ...sent),
    (failed, outcome) => {
      if (failed) {
        call.finish(rt, 'error', toolStart, toStructuredError(outcome, 'tool', rt.content.sensitive), outcome);
        return;
      }
      let failure: StructuredError | undefined;
      try {
        failure = framework.failure?.(outcome);
      } catch (error) {
        rt.report(error);
      }
      if (failure === undefined) call.finish(rt, 'success', toolStart, undefined, outcome);
      else call.finish(rt, 'error', toolStart, failure, outcome);
    },
  );
}
