/**
 * `alm.tool`: the hot path. One call decides policy, opens an execute_tool span, queues its record,
 * runs the tool (or refuses to), and closes the span. No I/O, no event building, no validation here:
 * events are built from the record later, off the agent's path.
 */
import { randomUUID } from 'node:crypto';
import { context } from '@opentelemetry/api';
import { ToolDeniedError } from '../errors';
import { captureArguments, captureValue } from '../events/capture';
import { toStructuredError, type StructuredError } from '../events/errors';
import { Phase } from '../events/pipeline';
import type { PolicyDecision } from '../policy/rules';
import * as sc from '../semconv';
import { now } from './clock';
import { Operation } from './operation';
import type { RunState } from './run-state';
import type { Runtime } from './runtime';
import { observe } from './settle';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyFunction = (...args: any[]) => any;

interface ToolDefinition {
  readonly name: string;
  readonly spanName: string;
  /** The name-only part of the policy decision, fixed when the tool is wrapped. */
  readonly rule: PolicyDecision;
  /** Denials of an `async function` reject rather than throw, as the function itself would. */
  readonly isAsync: boolean;
  readonly fn: AnyFunction;
}

const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;

export function wrapTool<F extends AnyFunction>(rt: Runtime, name: string, fn: F): F {
  const tool: ToolDefinition = {
    name,
    spanName: `execute_tool ${name}`,
    rule: rt.policy.ruleFor(name),
    isAsync: fn instanceof AsyncFunction,
    fn,
  };
  const wrapped = function (this: unknown, ...args: unknown[]): unknown {
    return callTool(rt, tool, this, args);
  };
  Object.defineProperty(wrapped, 'name', { value: fn.name, configurable: true });
  Object.defineProperty(wrapped, 'length', { value: fn.length, configurable: true });
  return wrapped as F;
}

function callTool(rt: Runtime, tool: ToolDefinition, self: unknown, args: unknown[]): unknown {
  const startTime = now();
  const scope = rt.storage.getStore();
  const run = scope?.run;
  const decision = rt.policy.decide(tool.rule, run, rt.enforcing);
  const policyMs = now() - startTime;
  const blocked = !decision.allow && rt.enforcing;
  const toolCallId = randomUUID();

  let op: Operation | undefined;
  try {
    const attributes: Record<string, string | number | boolean> = {
      [sc.ATTR_GEN_AI_OPERATION_NAME]: sc.GEN_AI_OPERATION_NAME_VALUE_EXECUTE_TOOL,
      [sc.ATTR_GEN_AI_TOOL_NAME]: tool.name,
      [sc.ATTR_GEN_AI_TOOL_CALL_ID]: toolCallId,
      [sc.ATTR_GEN_AI_TOOL_TYPE]: sc.GEN_AI_TOOL_TYPE_VALUE_FUNCTION,
      [sc.ATTR_ALM_POLICY_DECISION]: decision.allow ? 'allow' : 'deny',
      [sc.ATTR_ALM_POLICY_REASON]: decision.reason,
      [sc.ATTR_ALM_POLICY_LATENCY_MS]: policyMs,
      [sc.ATTR_ALM_TOOL_ATTEMPT]: 1,
      [sc.ATTR_ALM_TOOL_RETRIES]: 0,
    };
    if (run !== undefined) attributes[sc.ATTR_ALM_RUN_ID] = run.runId;
    if (!decision.allow && !blocked) attributes[sc.ATTR_ALM_POLICY_VIOLATION] = true;
    op = new Operation(rt, tool.spanName, attributes, rt.parentContext(scope), startTime);
    op.setStructured(sc.ATTR_GEN_AI_TOOL_CALL_ARGUMENTS, captureArguments(args));
    op.addEvent(sc.EVENT_POLICY_DECISION, {
      [sc.ATTR_ALM_POLICY_DECISION]: decision.allow ? 'allow' : 'deny',
      [sc.ATTR_ALM_POLICY_REASON]: decision.reason,
    });
    rt.events.enqueue(op.record, Phase.Start);
  } catch (error) {
    // Instrumentation failed; the policy decision above still stands.
    rt.report(error);
    op = undefined;
  }

  if (blocked) {
    const denied = new ToolDeniedError(tool.name, toolCallId, decision.reason);
    // Denials carry the reference SDK's error type, so ALM backends see what they expect.
    const error: StructuredError = {
      type: 'PermissionError',
      message: denied.message,
      source: 'policy',
      retryable: false,
    };
    finish(rt, op, run, decision, policyMs, 'denied', 0, error, denied);
    if (tool.isAsync) return Promise.reject(denied);
    throw denied;
  }

  const toolStart = now();
  const body =
    op === undefined ? () => tool.fn.apply(self, args) : () => context.with(op!.context, tool.fn, self, ...args);
  return observe(body, (failed, outcome) => {
    const toolMs = now() - toolStart;
    if (failed) finish(rt, op, run, decision, policyMs, 'error', toolMs, toStructuredError(outcome, 'tool'), outcome);
    else finish(rt, op, run, decision, policyMs, 'success', toolMs, undefined, outcome);
  });
}

function finish(
  rt: Runtime,
  op: Operation | undefined,
  run: RunState | undefined,
  decision: PolicyDecision,
  policyMs: number,
  status: 'success' | 'denied' | 'error',
  toolMs: number,
  error: StructuredError | undefined,
  outcome: unknown,
): void {
  try {
    run?.recordToolCall(decision.allow, status, toolMs, policyMs);
    if (op === undefined) return;
    op.set(sc.ATTR_ALM_TOOL_STATUS, status);
    op.set(sc.ATTR_ALM_TOOL_LATENCY_MS, toolMs);
    if (error !== undefined) op.fail(error, outcome);
    else if (outcome !== undefined && outcome !== null)
      op.setStructured(sc.ATTR_GEN_AI_TOOL_CALL_RESULT, captureValue(outcome));
    op.end(now());
    rt.events.enqueue(op.record, Phase.End);
  } catch (failure) {
    rt.report(failure);
  }
}
