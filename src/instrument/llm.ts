/**
 * `alm.llm`: a model call as a GenAI inference span (`{operation} {model}`, kind CLIENT), counted
 * toward its run's model-call, token and cost budgets (and every enclosing run's). A call is refused
 * before it starts when a budget is already reached; the call that crosses a limit completes and is
 * counted, since its usage is only known afterwards.
 */
import { randomUUID } from 'node:crypto';
import { SpanKind, context, type Attributes, type Context, type Span } from '@opentelemetry/api';
import { ALMConfigError, BudgetExceededError } from '../errors';
import { truncateString } from '../events/capture';
import { toStructuredError, type StructuredError } from '../events/errors';
import { Phase } from '../events/pipeline';
import type { LlmRecord, LlmStatus } from '../events/record';
import { chargeLlm } from '../policy/budgets';
import * as sc from '../semconv';
import { now } from './clock';
import { adoptRemoteRun } from './remote-run';
import { Operation } from './operation';
import type { RunState } from './run-state';
import type { Runtime } from './runtime';
import { fail, observe } from './settle';
import { responseFromResult, usageFromResult, type ResponseDetails, type TokenUsage } from './usage';

export interface LlmOptions {
  /** The model provider, as `gen_ai.provider.name` names it: `openai`, `anthropic`, `aws.bedrock`, … */
  provider: string;
  /** The requested model; also the key into `policy.prices`. */
  model: string;
  /** The GenAI operation: `chat` (default), `text_completion`, `embeddings`, `generate_content`. */
  operation?: string;
}

/** Passed to the model call's function. */
export interface LlmCallHandle {
  readonly llmCallId: string;
  /**
   * The call's token usage, when the result does not carry it in a known shape (streams, other
   * clients). Replaces what was set before. May be called after the call returned (a stream's usage
   * arrives at its end): the difference still counts toward the run's budgets and summary.
   */
  setUsage(usage: { inputTokens?: number; outputTokens?: number }): void;
  /** Response details the result does not carry in a known shape. */
  setResponse(response: ResponseDetails): void;
}

function tokenCount(field: string, value: unknown): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new TypeError(`call.setUsage: ${field} must be a number of tokens, 0 or more`);
  }
  return Math.round(value);
}

class LlmCall extends Operation implements LlmRecord, ModelCall {
  readonly kind = 'llm';
  status: LlmStatus = 'success';
  responseModel: string | undefined = undefined;
  responseId: string | undefined = undefined;
  finishReasons: string[] | undefined = undefined;
  inputTokens = 0;
  outputTokens = 0;
  costUsd: number | null = null;
  error: StructuredError | undefined = undefined;
  private explicitUsage: TokenUsage | undefined = undefined;
  /** Whether the call's usage came from its own result or setUsage (not from a span inside it). */
  private ownUsage = false;
  /** What model spans of other instrumentations inside this call reported (an instrumented client's). */
  private nestedUsage: TokenUsage | undefined = undefined;
  private explicitResponse: ResponseDetails = {};
  private ended = false;
  /** Decorating another instrumentation's span for this call (which may have flagged it at start). */
  private readonly joined: boolean;

  constructor(
    private readonly rt: Runtime,
    readonly llmCallId: string,
    private readonly run: RunState | undefined,
    readonly provider: string,
    readonly model: string,
    readonly operation: string,
    parent: Context,
    startTime: number,
    joined: Span | undefined,
  ) {
    super(
      rt,
      `${operation} ${model}`,
      {
        [sc.ATTR_GEN_AI_OPERATION_NAME]: operation,
        [sc.ATTR_GEN_AI_PROVIDER_NAME]: provider,
        [sc.ATTR_GEN_AI_REQUEST_MODEL]: model,
        [sc.ATTR_ALM_LLM_CALL_ID]: llmCallId,
        [sc.ATTR_ALM_RUN_ID]: run?.runId,
      },
      parent,
      startTime,
      run?.runId ?? null,
      SpanKind.CLIENT,
      joined,
    );
    this.joined = joined !== undefined;
    if (this.span !== undefined) rt.llmSpans.set(this.span, this);
  }

  /** A model span of another instrumentation inside this call ended: the same call, seen by its client. */
  adoptUsage(inputTokens: number, outputTokens: number): void {
    if (this.ended) {
      // A stream read after the call returned: its client's span ends later. Count it, unless the call
      // had usage of its own (from its result or setUsage), which is the same call's.
      if (!this.ownUsage) this.lateAccount(inputTokens, outputTokens);
      return;
    }
    const nested = this.nestedUsage ?? { inputTokens: 0, outputTokens: 0 };
    this.nestedUsage = {
      inputTokens: nested.inputTokens + inputTokens,
      outputTokens: nested.outputTokens + outputTokens,
    };
  }

  setUsage(usage: { inputTokens?: number; outputTokens?: number }): void {
    if (typeof usage !== 'object' || usage === null)
      throw new TypeError('call.setUsage: expected { inputTokens, outputTokens }');
    const next = {
      inputTokens: tokenCount('inputTokens', usage.inputTokens),
      outputTokens: tokenCount('outputTokens', usage.outputTokens),
    };
    if (!this.ended) {
      this.explicitUsage = next;
      return;
    }
    // After the call ended: count what is new (the span and events have gone out already).
    this.ownUsage = true;
    this.lateAccount(next.inputTokens - this.inputTokens, next.outputTokens - this.outputTokens);
  }

  private lateAccount(input: number, output: number): void {
    try {
      this.account(input, output);
    } catch (error) {
      this.rt.report(error);
    }
  }

  setResponse(response: ResponseDetails): void {
    if (typeof response === 'object' && response !== null) this.explicitResponse = { ...response };
  }

  flagOverBudget(budget: string): void {
    this.setSpanAttributes({ [sc.ATTR_ALM_POLICY_VIOLATION]: true, [sc.ATTR_ALM_BUDGET]: budget });
  }

  /** Refused by a budget: the call never starts. */
  refuse(refusal: BudgetExceededError): void {
    try {
      this.status = 'denied';
      this.error = { type: refusal.name, message: refusal.message, source: 'policy', retryable: false };
      this.setSpanAttributes({ [sc.ATTR_ALM_LLM_STATUS]: 'denied', [sc.ATTR_ALM_BUDGET]: refusal.details.budget });
      // The policy SpanProcessor flags a model span that starts over budget; this one was blocked.
      if (this.joined) this.setSpanAttributes({ [sc.ATTR_ALM_POLICY_VIOLATION]: false });
      this.markSpanFailed(this.error, refusal);
      this.close(now());
      this.rt.metrics.budgetExceeded(refusal.details.budget);
    } catch (error) {
      this.rt.report(error);
    }
  }

  finish(failed: boolean, outcome: unknown): void {
    const endTime = now();
    this.status = failed ? 'error' : 'success';
    if (failed) this.error = toStructuredError(outcome, 'system'); // never throws
    try {
      const found = failed ? {} : responseFromResult(outcome);
      const response = { ...found, ...this.explicitResponse };
      if (response.model !== undefined) this.responseModel = truncateString(String(response.model));
      if (response.id !== undefined) this.responseId = truncateString(String(response.id));
      if (Array.isArray(response.finishReasons)) {
        this.finishReasons = response.finishReasons.slice(0, 16).map((r) => truncateString(String(r)));
      }
      const own = this.explicitUsage ?? (failed ? undefined : usageFromResult(outcome));
      this.ownUsage = own !== undefined;
      const usage = own ?? this.nestedUsage;
      const attributes: Attributes = { [sc.ATTR_ALM_LLM_STATUS]: this.status };
      if (this.responseModel !== undefined) attributes[sc.ATTR_GEN_AI_RESPONSE_MODEL] = this.responseModel;
      if (this.responseId !== undefined) attributes[sc.ATTR_GEN_AI_RESPONSE_ID] = this.responseId;
      if (this.finishReasons !== undefined) attributes[sc.ATTR_GEN_AI_RESPONSE_FINISH_REASONS] = this.finishReasons;
      if (usage !== undefined) {
        this.account(usage.inputTokens, usage.outputTokens);
        attributes[sc.ATTR_GEN_AI_USAGE_INPUT_TOKENS] = this.inputTokens;
        attributes[sc.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS] = this.outputTokens;
        if (this.costUsd !== null) attributes[sc.ATTR_ALM_LLM_COST_USD] = this.costUsd;
      }
      this.setSpanAttributes(attributes);
      if (this.error !== undefined) this.markSpanFailed(this.error, outcome);
      this.rt.metrics.modelCall(this.metricAttributes(), (endTime - this.startTime) / 1000, this.error?.type);
    } catch (error) {
      this.rt.report(error);
    } finally {
      // Whatever failed above, the span ends and the call's events go out.
      this.close(endTime);
    }
  }

  /** Add tokens (and their cost) to this call, its run's summary, and the budgets of the run and its parents. */
  private account(input: number, output: number): void {
    if (input === 0 && output === 0) return;
    const from = { inputTokens: this.inputTokens, outputTokens: this.outputTokens };
    this.inputTokens += input;
    this.outputTokens += output;
    const to = { inputTokens: this.inputTokens, outputTokens: this.outputTokens };
    this.costUsd = this.rt.models.charge(this.run, this.model, this.responseModel, from, to, this.rt.report);
    this.rt.metrics.tokens(this.metricAttributes(), input, output);
  }

  private metricAttributes(): Attributes {
    const attributes: Attributes = {
      [sc.ATTR_GEN_AI_OPERATION_NAME]: this.operation,
      [sc.ATTR_GEN_AI_PROVIDER_NAME]: this.provider,
      [sc.ATTR_GEN_AI_REQUEST_MODEL]: this.model,
    };
    if (this.responseModel !== undefined) attributes[sc.ATTR_GEN_AI_RESPONSE_MODEL] = this.responseModel;
    return attributes;
  }

  private close(endTime: number): void {
    this.ended = true;
    this.endSpan(endTime);
    if (this.rt.llmEvents) this.rt.events.enqueue(this, Phase.End);
  }
}

/** A cost budget cannot count a model without a price: refuse the call before it starts. */
export function unpricedModelError(rt: Runtime, model: string): ALMConfigError | undefined {
  if (!rt.models.costBudget || rt.models.hasPrice(model)) return undefined;
  return new ALMConfigError([
    `policy.prices: no price for model '${truncateString(model)}', which maxCostPerRun needs to count this call`,
  ]);
}

/** A model call begun and admitted: run the provider in `otelContext`, then `finish` it once. */
export interface ModelCall extends LlmCallHandle {
  /** The context the provider call runs in (its span active). */
  readonly otelContext: Context;
  /** The provider call settled: `outcome` is its result or error. Never throws. */
  finish(failed: boolean, outcome: unknown): void;
}

/**
 * Begin a model call: decide it against the run's budgets and, when admitted, open its span (or decorate
 * `joined`, another instrumentation's span for the same call) and take its call slot. Returns the
 * refusal instead when a budget (or an unpriced model under a cost budget) refuses it: the provider
 * must then not be called. `alm.llm` and the framework adapters' models all begin here.
 */
export function beginLlm(rt: Runtime, options: LlmOptions, joined?: Span): ModelCall | Error {
  const startTime = now();
  const scope = rt.storage.getStore();
  const run = scope?.run ?? adoptRemoteRun(rt, context.active());
  const model = truncateString(options.model);
  const unpriced = unpricedModelError(rt, options.model);
  if (unpriced !== undefined) return unpriced;
  const call = new LlmCall(
    rt,
    randomUUID(),
    run,
    truncateString(options.provider),
    model,
    truncateString(options.operation ?? sc.GEN_AI_OPERATION_NAME_VALUE_CHAT),
    rt.parentContext(scope),
    startTime,
    joined,
  );
  if (rt.llmEvents) rt.events.enqueue(call, Phase.Start);
  const exceeded = rt.models.exceeded(run);
  if (exceeded !== undefined && rt.enforcing) {
    const refusal = new BudgetExceededError(exceeded);
    call.refuse(refusal);
    return refusal;
  }
  // Monitor mode: the call runs, and its span says which budget it went over.
  if (exceeded !== undefined) call.flagOverBudget(exceeded.budget);
  // The call slot is taken now, synchronously, so parallel calls cannot overrun a call budget.
  chargeLlm(run, 1, 0, 0);
  run?.recordLlmCall();
  return call;
}

export function startLlm<T>(rt: Runtime, options: LlmOptions, fn: (call: LlmCallHandle) => T): T {
  const call = beginLlm(rt, options);
  if (call instanceof Error) return fail(fn, call);
  return observe(
    () => context.with(call.otelContext, fn, undefined, call),
    (failed, outcome) => call.finish(failed, outcome),
  );
}
