/** `alm.run`: an agent run as an invoke_agent span, run.start/run.end events, and a fresh budget. */
import { randomUUID } from 'node:crypto';
import { context, type Attributes, type Context } from '@opentelemetry/api';
import { truncateString } from '../events/capture';
import { toStructuredError, type StructuredError } from '../events/errors';
import { Phase } from '../events/pipeline';
import type { RunRecord } from '../events/record';
import type { RunSummary } from '../events/schema';
import { spendOf, type RunSpend } from '../policy/admission';
import * as sc from '../semconv';
import { now } from './clock';
import { Operation } from './operation';
import { RunState, summaryAttributes } from './run-state';
import type { Runtime, Scope } from './runtime';
import { observe, type Settled } from './settle';
import { withRunBaggage } from '../propagation';

export interface RunOptions {
  /** What the run is for; recorded on run.start and the span. */
  purpose?: string;
  /**
   * Who and what the run is for: `{ tenant: 'acme', user: 'u-42' }`. On the span as `alm.label.<name>`,
   * on run.start, inherited by child runs, carried to other services with the run (baggage), and the
   * keys of `policy.budgets` scoped by label.
   */
  labels?: Readonly<Record<string, string>>;
}

/** Passed to the run's function. */
export interface RunHandle {
  readonly runId: string;
  /** The run span's trace id (null when no tracer provider is registered): find the run in Jaeger with it. */
  readonly traceId: string | null;
  readonly spanId: string | null;
  /** What the run (with its child runs) has spent, what calls in flight hold, and what its budgets have left. */
  spent(): RunSpend;
}

/** The handle a run's function receives. */
export function runHandle(rt: Runtime, state: RunState, traceId: string | null, spanId: string | null): RunHandle {
  return { runId: state.runId, traceId, spanId, spent: () => spendOf(state, rt.models) };
}

/** Run `invoke` inside `scope`, for alm-otel and for OTel context alike, and observe its outcome. */
export function runInScope<T>(rt: Runtime, scope: Scope, invoke: () => T, done: Settled): T {
  rt.enterScope();
  return observe(
    () => rt.storage.run(scope, () => context.with(scope.otelContext, invoke)),
    (failed, outcome) => {
      rt.exitScope();
      done(failed, outcome);
    },
  );
}

class RunOperation extends Operation implements RunRecord {
  readonly kind = 'run';
  success = true;
  summary: RunSummary | undefined = undefined;
  error: StructuredError | undefined = undefined;

  readonly parentRunId: string | undefined;
  readonly labels: Readonly<Record<string, string>> | undefined;

  constructor(
    rt: Runtime,
    readonly state: RunState,
    readonly purpose: string | undefined,
    parent: Context,
    startTime: number,
  ) {
    const env = rt.envelope;
    const attributes: Attributes = {
      [sc.ATTR_GEN_AI_OPERATION_NAME]: sc.GEN_AI_OPERATION_NAME_VALUE_INVOKE_AGENT,
      [sc.ATTR_GEN_AI_AGENT_ID]: env.agentId,
      [sc.ATTR_GEN_AI_AGENT_NAME]: env.agentId,
      [sc.ATTR_GEN_AI_AGENT_VERSION]: env.agentVersion ?? undefined,
      [sc.ATTR_ALM_RUN_ID]: state.runId,
      [sc.ATTR_ALM_ENV]: env.env,
      [sc.ATTR_ALM_POLICY_VERSION]: env.policyVersion ?? undefined,
      [sc.ATTR_ALM_RUN_PURPOSE]: purpose || undefined,
      [sc.ATTR_ALM_RUN_PARENT_ID]: state.parent?.runId,
    };
    const labels = state.labels;
    if (labels !== undefined)
      for (const name of Object.keys(labels)) attributes[sc.ATTR_ALM_LABEL_PREFIX + name] = labels[name];
    super(rt, `invoke_agent ${env.agentId}`, attributes, parent, startTime, state.runId);
    this.parentRunId = state.parent?.runId;
    this.labels = labels;
  }

  finish(rt: Runtime, failed: boolean, outcome: unknown): void {
    try {
      const endTime = now();
      this.summary = this.state.summary(endTime - this.startTime, rt.models.limits);
      this.success = !failed;
      this.setSpanAttributes(summaryAttributes(this.summary));
      this.setSpanAttribute(sc.ATTR_ALM_RUN_SUCCESS, !failed);
      if (failed) {
        this.error = toStructuredError(outcome, 'agent', rt.content.sensitive);
        this.markSpanFailed(this.error, outcome);
      }
      this.endSpan(endTime);
      rt.events.enqueue(this, Phase.End);
      this.state.end();
      rt.metrics.agentRun(rt.envelope.agentId, (endTime - this.startTime) / 1000, this.error?.type);
    } catch (error) {
      this.state.end();
      rt.report(error);
    }
  }
}

export function startRun<T>(rt: Runtime, options: RunOptions, fn: (run: RunHandle) => T): T {
  const startTime = now();
  const scope = rt.storage.getStore();
  // A run inside a run is a child run: its calls count toward the parent's budgets too.
  const state = new RunState(randomUUID(), scope?.run, rt.models.priced);
  // A child run inherits its parent's labels; its own win.
  const inherited = scope?.run?.labels;
  state.labels = options.labels === undefined ? inherited : { ...inherited, ...options.labels };
  const purpose = options.purpose ? truncateString(options.purpose) : undefined;
  const op = new RunOperation(rt, state, purpose, rt.parentContext(scope), startTime);
  rt.events.enqueue(op, Phase.Start);
  const handle = runHandle(rt, state, op.traceId, op.spanId);
  return runInScope(
    rt,
    // The run's id goes into the baggage of its context, so propagators carry it to other processes.
    { run: state, otelContext: withRunBaggage(op.otelContext, state.runId, state.labels) },
    () => fn(handle),
    (failed, outcome) => op.finish(rt, failed, outcome),
  );
}
