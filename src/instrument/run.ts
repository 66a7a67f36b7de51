/** `alm.run`: an agent run as an invoke_agent span, run.start/run.end events, and a fresh budget. */
import { randomUUID } from 'node:crypto';
import { context } from '@opentelemetry/api';
import { toStructuredError } from '../events/errors';
import { Phase } from '../events/pipeline';
import * as sc from '../semconv';
import { now } from './clock';
import { Operation } from './operation';
import { RunState } from './run-state';
import type { Runtime, Scope } from './runtime';
import { observe, type Settled } from './settle';

export interface RunOptions {
  /** What the run is for; recorded on run.start and the span. */
  purpose?: string;
}

/** Passed to the run's function. */
export interface RunHandle {
  readonly runId: string;
  /** The run span's trace id (null when no tracer provider is registered): find the run in Jaeger with it. */
  readonly traceId: string | null;
  readonly spanId: string | null;
}

/** Run `invoke` inside `scope`, for alm-otel and for OTel context alike, and observe its outcome. */
export function runInScope<T>(rt: Runtime, scope: Scope, invoke: () => T, done: Settled): T {
  return observe(() => rt.storage.run(scope, () => context.with(scope.otelContext, invoke)), done);
}

export function startRun<T>(rt: Runtime, options: RunOptions, fn: (run: RunHandle) => T): T {
  const startTime = now();
  const parent = rt.parentContext(rt.storage.getStore());
  const state = new RunState(randomUUID());
  const env = rt.envelope;
  const attributes: Record<string, string | number | boolean> = {
    [sc.ATTR_GEN_AI_OPERATION_NAME]: sc.GEN_AI_OPERATION_NAME_VALUE_INVOKE_AGENT,
    [sc.ATTR_GEN_AI_AGENT_ID]: env.agentId,
    [sc.ATTR_GEN_AI_AGENT_NAME]: env.agentId,
    [sc.ATTR_ALM_RUN_ID]: state.runId,
    [sc.ATTR_ALM_ENV]: env.env,
  };
  if (env.agentVersion !== null) attributes[sc.ATTR_GEN_AI_AGENT_VERSION] = env.agentVersion;
  if (env.policyVersion !== null) attributes[sc.ATTR_ALM_POLICY_VERSION] = env.policyVersion;
  if (options.purpose) attributes[sc.ATTR_ALM_RUN_PURPOSE] = options.purpose;

  const op = new Operation(rt, `invoke_agent ${env.agentId}`, attributes, parent, startTime);
  rt.events.enqueue(op.record, Phase.Start);
  const handle: RunHandle = { runId: state.runId, traceId: op.record.traceId, spanId: op.record.spanId };

  return runInScope(
    rt,
    { run: state, otelContext: op.context },
    () => fn(handle),
    (failed, outcome) => {
      try {
        const endTime = now();
        op.setAll(state.summaryAttributes(endTime - startTime));
        op.set(sc.ATTR_ALM_RUN_SUCCESS, !failed);
        if (failed) op.fail(toStructuredError(outcome, 'agent'), outcome);
        op.end(endTime);
        rt.events.enqueue(op.record, Phase.End);
      } catch (error) {
        rt.report(error);
      }
    },
  );
}
