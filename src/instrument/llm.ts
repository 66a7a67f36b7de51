/**
 * `alm.llm`: a model call as a GenAI inference span (`{operation} {model}`, kind CLIENT), counted
 * toward its run's model-call, token and cost budgets (and every enclosing run's). A call is admitted
 * through policy/admission.ts: refused before it starts when a budget is already reached, or when the
 * calls in flight hold what is left (an `async function` then waits for room); the call that crosses a
 * limit completes and is counted, since its usage is only known afterwards.
 */
import { SpanKind, context, type Attributes, type Context, type Span } from '@opentelemetry/api';
import { BudgetExceededError } from '../errors';
import { truncateString } from '../events/capture';
import { toStructuredError, type StructuredError } from '../events/errors';
import { Phase } from '../events/pipeline';
import type { LlmRecord, LlmStatus } from '../events/record';
import { admitLlm, admitLlmWhenRoom, mayWait, type LlmEstimate, type LlmTicket } from '../policy/admission';
import { budgetDetails, costOf, saturatedTokens } from '../policy/budgets';
import { BudgetStoreError } from '../policy/redis-store';
import { ScopedBudgets, callScope, type ScopedBudgetDetails, type ScopedHold } from '../policy/scoped';
import * as sc from '../semconv';
import { newId } from '../ids';
import { now } from './clock';
import { adoptRemoteRun } from './remote-run';
import { Operation, emit } from './operation';
import type { RunState } from './run-state';
import type { Runtime } from './runtime';
import { fail, isAsyncFunction, observe } from './settle';
import { responseFromResult, usageFromResult, type ResponseDetails, type TokenUsage } from './usage';

export interface LlmOptions {
  /** The model provider, as `gen_ai.provider.name` names it: `openai`, `anthropic`, `aws.bedrock`, … */
  provider: string;
  /** The requested model; also the key into `policy.prices`. */
  model: string;
  /** The GenAI operation: `chat` (default), `text_completion`, `embeddings`, `generate_content`. */
  operation?: string;
  /**
   * The most output tokens the call may produce, as passed to the provider (`max_tokens`,
   * `maxOutputTokens`). Under a token or cost budget the call holds this much (plus an input estimate)
   * while in flight, so parallel calls cannot overrun the budget (docs/budgets.md).
   */
  maxOutputTokens?: number;
  /**
   * The call's input tokens, when counted before the call (a tokenizer). With `maxOutputTokens`, the
   * call's reservation is a true maximum: a scoped budget (`policy.budgets`) then admits it only if it
   * fits, and is never passed (docs/budgets.md).
   */
  inputTokens?: number;
}

/** Passed to the model call's function. */
export interface LlmCallHandle {
  readonly llmCallId: string;
  /**
   * The call's token usage so far, when the result does not carry it in a known shape (streams, other
   * clients). Totals, not increments: a lower number than before, or a field left out, keeps what was
   * counted. May be called after the call returned (a stream's usage arrives at its end): the
   * difference still counts toward the run's budgets and summary.
   */
  setUsage(usage: { inputTokens?: number; outputTokens?: number }): void;
  /** Response details the result does not carry in a known shape. */
  setResponse(response: ResponseDetails): void;
}

/**
 * A `call.setUsage` argument, checked: a TypeError names a bad field, and a bad count still counts
 * (NaN or not a number as the most tokens, a negative one as nothing new), so that a caller who
 * catches the error has not lifted the budget.
 */
function checkedUsage(usage: unknown): { usage: Partial<TokenUsage>; error: TypeError | undefined } {
  if (typeof usage !== 'object' || usage === null) {
    return { usage: {}, error: new TypeError('call.setUsage: expected { inputTokens, outputTokens }') };
  }
  const checked: Partial<TokenUsage> = {};
  let error: TypeError | undefined;
  for (const field of ['inputTokens', 'outputTokens'] as const) {
    let value: unknown;
    try {
      value = (usage as Record<string, unknown>)[field];
    } catch {
      value = NaN;
    }
    if (value === undefined) continue;
    if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
      error ??= new TypeError(`call.setUsage: ${field} must be a number of tokens, 0 or more`);
      if (typeof value === 'number' && value < 0) continue;
    }
    checked[field] = saturatedTokens(typeof value === 'number' ? value : NaN);
  }
  return { usage: checked, error };
}

function larger(
  a: Partial<TokenUsage> | undefined,
  b: Partial<TokenUsage> | undefined,
): Partial<TokenUsage> | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return {
    inputTokens: Math.max(a.inputTokens ?? 0, b.inputTokens ?? 0),
    outputTokens: Math.max(a.outputTokens ?? 0, b.outputTokens ?? 0),
  };
}

/**
 * What one model call used, from every source — its result (or the error it threw), `setUsage`, and
 * model spans of an instrumented client inside it — counted through its admission ticket. Totals only
 * grow: the same usage reported twice, or lower, is never counted again nor taken back.
 */
export class CallUsage {
  private explicit: Partial<TokenUsage> | undefined = undefined;
  private nested: TokenUsage | undefined = undefined;
  ended = false;

  constructor(
    readonly ticket: LlmTicket,
    private readonly run: RunState | undefined,
    private readonly counted: (dIn: number, dOut: number) => void,
  ) {}

  set(usage: unknown, responseModel: string | undefined): void {
    const { usage: checked, error } = checkedUsage(usage);
    const merged = { ...this.explicit };
    for (const field of ['inputTokens', 'outputTokens'] as const) {
      const value = checked[field];
      if (value !== undefined) merged[field] = Math.max(merged[field] ?? 0, value);
    }
    this.explicit = merged;
    if (this.ended) this.late(merged, responseModel);
    if (error !== undefined) throw error;
  }

  /** A model span of another instrumentation inside this call ended: the same call, seen by its client. */
  adopt(inputTokens: number, outputTokens: number, responseModel: string | undefined): void {
    const n = this.nested ?? { inputTokens: 0, outputTokens: 0 };
    this.nested = { inputTokens: n.inputTokens + inputTokens, outputTokens: n.outputTokens + outputTokens };
    if (this.ended) this.late(this.nested, responseModel);
  }

  /** The model function settled: count what is known, or hold the reservation until usage comes. */
  finish(found: Partial<TokenUsage> | undefined, responseModel: string | undefined): boolean {
    this.ended = true;
    const usage = larger(larger(this.explicit, found), this.nested);
    if (usage === undefined) {
      this.ticket.returned();
      if (this.run === undefined) this.ticket.release();
      else this.run.awaitUsage(this.ticket);
      return false;
    }
    this.count(usage, responseModel);
    this.ticket.release();
    return true;
  }

  private late(usage: Partial<TokenUsage>, responseModel: string | undefined): void {
    this.count(usage, responseModel);
    this.ticket.release();
    this.run?.usageArrived(this.ticket);
  }

  private count(usage: Partial<TokenUsage>, responseModel: string | undefined): void {
    const t = this.ticket;
    const before = { inputTokens: t.inputTokens, outputTokens: t.outputTokens };
    t.settle(usage, responseModel);
    const dIn = t.inputTokens - before.inputTokens;
    const dOut = t.outputTokens - before.outputTokens;
    if (dIn > 0 || dOut > 0) this.counted(dIn, dOut);
  }
}

class LlmCall extends Operation implements LlmRecord, ModelCall {
  readonly kind = 'llm';
  status: LlmStatus = 'success';
  responseModel: string | undefined = undefined;
  responseId: string | undefined = undefined;
  finishReasons: string[] | undefined = undefined;
  error: StructuredError | undefined = undefined;
  private explicitResponse: ResponseDetails = {};
  private usage: CallUsage | undefined = undefined;
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
  }

  get inputTokens(): number {
    return this.usage?.ticket.inputTokens ?? 0;
  }

  get outputTokens(): number {
    return this.usage?.ticket.outputTokens ?? 0;
  }

  get costUsd(): number | null {
    return this.usage?.ticket.costUsd ?? null;
  }

  /** The call was admitted: it runs, counted through `ticket`. */
  admitted(ticket: LlmTicket): void {
    this.usage = new CallUsage(ticket, this.run, (dIn, dOut) =>
      this.rt.metrics.tokens(this.metricAttributes(), dIn, dOut),
    );
    if (this.span !== undefined) this.rt.llmSpans.set(this.span, this);
    if (ticket.overBudget !== undefined) this.flagOverBudget(ticket.overBudget.budget);
  }

  /** A model span of another instrumentation inside this call ended: the same call, seen by its client. */
  adoptUsage(inputTokens: number, outputTokens: number): void {
    try {
      this.usage?.adopt(inputTokens, outputTokens, this.responseModel);
    } catch (error) {
      this.rt.report(error);
    }
  }

  setUsage(usage: { inputTokens?: number; outputTokens?: number }): void {
    // After the call ended, what is new still counts (the span and events have gone out already).
    this.usage?.set(usage, this.responseModel);
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
      // A thrown error may carry the usage of a model that answered (the AI SDK's NoObjectGeneratedError).
      const counted = this.usage?.finish(usageFromResult(outcome), this.responseModel) ?? false;
      const attributes: Attributes = { [sc.ATTR_ALM_LLM_STATUS]: this.status };
      if (this.responseModel !== undefined) attributes[sc.ATTR_GEN_AI_RESPONSE_MODEL] = this.responseModel;
      if (this.responseId !== undefined) attributes[sc.ATTR_GEN_AI_RESPONSE_ID] = this.responseId;
      if (this.finishReasons !== undefined) attributes[sc.ATTR_GEN_AI_RESPONSE_FINISH_REASONS] = this.finishReasons;
      if (counted) {
        attributes[sc.ATTR_GEN_AI_USAGE_INPUT_TOKENS] = this.inputTokens;
        attributes[sc.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS] = this.outputTokens;
        const cost = this.costUsd;
        if (cost !== null && Number.isFinite(cost)) attributes[sc.ATTR_ALM_LLM_COST_USD] = cost;
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
    this.endSpan(endTime);
    if (this.rt.llmEvents) emit(this.rt, this.run, this, Phase.End);
  }
}

/**
 * Admit a model call (policy/admission.ts) and run it with `onAdmit`; or refuse it (`onRefuse`),
 * throwing (or rejecting, for an `async function`) the BudgetExceededError. An `async function`
 * refused only because calls in flight hold the room waits for them instead.
 */
export function admitted<T, F>(
  rt: Runtime,
  run: RunState | undefined,
  options: LlmOptions,
  fn: F,
  onAdmit: (ticket: LlmTicket) => T,
  onRefuse: (error: BudgetExceededError) => void = () => {},
): T {
  const estimate: LlmEstimate = {
    model: options.model,
    maxOutputTokens: options.maxOutputTokens,
    inputTokens: options.inputTokens,
  };
  if (run?.ended) rt.detached = true; // a model call of a run that has ended: see Runtime.detached
  const scoped = rt.scoped;
  // Budgets by scope and window come after the run's own: a call the run refuses takes nothing there.
  const admit =
    scoped === undefined || !scoped.models
      ? onAdmit
      : (ticket: LlmTicket): T => admitScoped(rt, scoped, run, estimate, ticket, fn, onAdmit, onRefuse);
  let ticket: LlmTicket;
  try {
    ticket = admitLlm(rt.models, run, estimate, rt.enforcing);
  } catch (error) {
    const refusal = error as BudgetExceededError;
    if (isAsyncFunction(fn) && mayWait(rt.models, run, estimate)) {
      return admitLlmWhenRoom(rt.models, run, estimate, rt.enforcing).then(admit, (late: BudgetExceededError) => {
        onRefuse(late);
        throw late;
      }) as T;
    }
    onRefuse(refusal);
    return fail(fn, refusal);
  }
  return admit(ticket);
}

/**
 * A model call the run admitted, before the scoped budgets (`policy.budgets`): one unit of their model
 * calls and a reservation of their tokens and cost (strict when the call declared both its input and its
 * maximum output); settled to what it used when its usage is final. Refused there, it never starts.
 */
function admitScoped<T, F>(
  rt: Runtime,
  scoped: ScopedBudgets,
  run: RunState | undefined,
  estimate: LlmEstimate,
  ticket: LlmTicket,
  fn: F,
  onAdmit: (ticket: LlmTicket) => T,
  onRefuse: (error: BudgetExceededError) => void,
): T {
  const output = estimate.maxOutputTokens;
  const input = estimate.inputTokens ?? 0;
  const declared = output !== undefined && estimate.inputTokens !== undefined;
  const price = rt.models.price(estimate.model);
  const tokens = saturatedTokens((output ?? 0) + input);
  const cost = price === undefined || output === undefined ? 0 : costOf(price, input, output);
  const refuse = (error: BudgetExceededError): never => {
    ticket.release();
    onRefuse(error);
    throw error;
  };
  const go = (verdict: { refused: ScopedBudgetDetails } | ScopedHold): T => {
    if ('refused' in verdict) {
      const error = new BudgetExceededError(verdict.refused, ScopedBudgets.reason(verdict.refused));
      if (rt.enforcing) refuse(error);
      return onAdmit(ticket); // monitor mode: runs, over the budget
    }
    return onAdmit(settling(ticket, verdict));
  };
  const unavailable = (error: unknown): T => {
    const reason = error instanceof BudgetStoreError ? error.message : 'the budget could not be checked';
    if (!(error instanceof BudgetStoreError)) rt.report(error);
    return refuse(new BudgetExceededError(budgetDetails('llm_calls', 0, 0, 1), reason));
  };
  try {
    const verdict = scoped.admitLlm(callScope(rt.envelope.agentId, run), tokens, cost, declared);
    if (verdict instanceof Promise) return verdict.then(go, unavailable) as T;
    return go(verdict);
  } catch (error) {
    if (error instanceof BudgetExceededError) return fail(fn, error);
    try {
      return unavailable(error);
    } catch (refusal) {
      return fail(fn, refusal as BudgetExceededError);
    }
  }
}

/** The ticket, whose final usage also settles the scoped budgets' reservation. */
function settling(ticket: LlmTicket, hold: ScopedHold): LlmTicket {
  return {
    get overBudget() {
      return ticket.overBudget;
    },
    get inputTokens() {
      return ticket.inputTokens;
    },
    get outputTokens() {
      return ticket.outputTokens;
    },
    get costUsd() {
      return ticket.costUsd;
    },
    settle: (usage, responseModel) => ticket.settle(usage, responseModel),
    returned: () => ticket.returned(),
    release: () => {
      ticket.release();
      hold.settle(ticket.inputTokens + ticket.outputTokens, ticket.costUsd ?? 0);
    },
  };
}

/** A model call admitted and open, for a framework adapter that ends it itself (a stream, after its function returned). */
export interface ModelCall extends LlmCallHandle {
  /** The context the provider call runs in (the call's span active). */
  readonly otelContext: Context;
  /** The provider call settled: `outcome` is its result or error. Never throws. */
  finish(failed: boolean, outcome: unknown): void;
}

/**
 * Admit a model call (as `admitted` does: `fn` says whether a refusal throws or rejects, and whether
 * the call may wait for calls in flight), open it, and hand it to `use`, which must `finish` it; a
 * refused call never reaches `use`. `joined`: another instrumentation's open span for this same call
 * (the AI SDK's own), decorated instead of starting a second one. `alm.llm` and the framework
 * adapters' models all begin here.
 */
export function beginLlm<T>(
  rt: Runtime,
  options: LlmOptions,
  fn: unknown,
  use: (call: ModelCall) => T,
  joined?: Span,
): T {
  const scope = rt.storage.getStore();
  const run = scope?.run ?? adoptRemoteRun(rt, context.active());
  const open = (startTime: number): LlmCall => {
    const call = new LlmCall(
      rt,
      newId(),
      run,
      truncateString(options.provider),
      truncateString(options.model),
      truncateString(options.operation ?? sc.GEN_AI_OPERATION_NAME_VALUE_CHAT),
      rt.parentContext(scope),
      startTime,
      joined,
    );
    if (rt.llmEvents) emit(rt, run, call, Phase.Start);
    return call;
  };
  const startTime = now();
  return admitted(
    rt,
    run,
    options,
    fn,
    (ticket) => {
      const call = open(startTime);
      call.admitted(ticket);
      return use(call);
    },
    (refusal) => open(startTime).refuse(refusal),
  );
}

export function startLlm<T>(rt: Runtime, options: LlmOptions, fn: (call: LlmCallHandle) => T): T {
  return beginLlm(rt, options, fn, (call) =>
    observe(
      () => context.with(call.otelContext, fn, undefined, call),
      (failed, outcome) => call.finish(failed, outcome),
    ),
  );
}
