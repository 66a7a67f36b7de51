/**
 * Model-call admission: the one path every model call takes through the run's model-call, token and
 * cost budgets — `alm.llm` (instrument/llm.ts `startLlm`, and disabled mode's `plainLlm`), the
 * framework model adapters that call `startLlm`, and other instrumentations' model spans. Its shape
 * is what a shared store (Redis fleet budgets) implements too:
 *
 *   const ticket = admitLlm(models, run, { model, maxOutputTokens?, inputTokens? }, enforcing);
 *       // synchronous: an LlmTicket, or throws BudgetExceededError (never in monitor mode)
 *   const ticket = await admitLlmWhenRoom(models, run, estimate, enforcing);
 *       // the same, but a call refused only because calls in flight hold the room waits for them
 *   ticket.settle({ inputTokens, outputTokens }, responseModel?);
 *       // the call's usage so far, as totals: counted toward the run (and its parents) and its
 *       // summary; a lower number or a missing field keeps what was counted; returns the cost so far
 *   ticket.returned();  // the model function settled (a stream's usage may still come)
 *   ticket.release();   // the usage is final, or will never come: the reservation is dropped
 *   countModelSpan(models, run, usage);  // another instrumentation's model call, counted once it ended
 *
 * The rule (docs/budgets.md states it for users): a call is admitted when, in its run and every
 * enclosing run, what was spent plus what calls in flight hold is below each token and cost limit,
 * and — if the call itself has no estimate — no other call without one is in flight. An admitted call
 * holds its estimate (declared maxOutputTokens, else the largest output one call of the run used; plus
 * the given input, else the largest input seen) until its usage is known. Hence under any fan-out a
 * budget is overrun by at most the one call that crossed it, as long as calls stay within what they hold.
 */
import { BudgetExceededError } from '../errors';
import { truncateString } from '../events/capture';
import {
  addUsd,
  budgetDetails,
  chargeLlm,
  costOf,
  exceededLlmBudget,
  exceededToolBudget,
  saturatedTokens,
  type BudgetDetails,
  type BudgetUsage,
} from './budgets';
import type { ModelPolicy, UsageRun } from './models';

/** What is known of a model call before it starts. */
export interface LlmEstimate {
  /** The requested model: its price prices the reservation. */
  readonly model: string;
  /** The most output tokens the call may produce, as declared to the provider. */
  readonly maxOutputTokens?: number | undefined;
  /** The call's input tokens, when the caller has counted them. */
  readonly inputTokens?: number | undefined;
}

/** Usage as a model call reports it: totals so far; a missing field keeps its previous value. */
export interface ReportedUsage {
  readonly inputTokens?: unknown;
  readonly outputTokens?: unknown;
}

export interface LlmTicket {
  /** In monitor mode, the budget the call runs over (it runs, flagged); undefined otherwise. */
  readonly overBudget: BudgetDetails | undefined;
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** Cost so far in USD; null when the call's model has no price. */
  readonly costUsd: number | null;
  settle(usage: ReportedUsage, responseModel?: string): number | null;
  returned(): void;
  release(): void;
}

interface Reservation {
  readonly tokens: number;
  readonly cost: number;
  /** Nothing to estimate it by: at most one such call in flight per run. */
  readonly unestimated: boolean;
}

const NONE: Reservation = Object.freeze({ tokens: 0, cost: 0, unestimated: false });

/** A count from an untrusted source: undefined keeps the previous value; hostile numbers count as the most. */
function reportedCount(value: unknown, previous: number): number {
  if (value === undefined || value === null) return previous;
  const n = typeof value === 'number' ? saturatedTokens(value) : saturatedTokens(NaN);
  return n > previous ? n : previous;
}

/** Whether `n` is a usable declared count (whole, 0 or more, finite). */
function declared(n: number | undefined): number | undefined {
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? saturatedTokens(n) : undefined;
}

class Ticket implements LlmTicket {
  inputTokens = 0;
  outputTokens = 0;
  costUsd: number | null = null;
  private charged = 0;
  private heldTokens: number;
  private heldCost: number;
  private unestimated: boolean;
  private running: boolean;
  private released = false;
  /** Its model turned out to have no price (told and counted once). */
  private unpricedSeen = false;

  constructor(
    private readonly models: ModelPolicy,
    private readonly run: UsageRun | undefined,
    private readonly model: string,
    private readonly reservation: Reservation,
    readonly overBudget: BudgetDetails | undefined,
    /** Whether it took part in the run's flight state (a token or cost budget is set). */
    private readonly tracked: boolean,
  ) {
    this.heldTokens = reservation.tokens;
    this.heldCost = reservation.cost;
    this.unestimated = reservation.unestimated;
    this.running = tracked;
  }

  settle(usage: ReportedUsage, responseModel?: string): number | null {
    if (typeof usage !== 'object' || usage === null) return this.costUsd;
    let input: number;
    let output: number;
    try {
      input = reportedCount(usage.inputTokens, this.inputTokens);
      output = reportedCount(usage.outputTokens, this.outputTokens);
    } catch {
      input = output = saturatedTokens(NaN); // a throwing getter: count the most, never nothing
    }
    const dIn = input - this.inputTokens;
    const dOut = output - this.outputTokens;
    this.inputTokens = input;
    this.outputTokens = output;
    const price = this.models.price(this.model, responseModel);
    let dCost = 0;
    if (price !== undefined) {
      const cost = costOf(price, input, output);
      dCost = cost === this.charged ? 0 : cost - this.charged; // Infinity - Infinity: already counted
      this.charged = cost;
      this.costUsd = cost;
    } else if (input + output > 0 && this.models.priced && !this.unpricedSeen) {
      this.unpricedSeen = true;
      this.unpriced(this.model);
    }
    const run = this.run;
    chargeLlm(run, 0, dIn + dOut, dCost);
    run?.recordLlmUsage(dIn, dOut, dCost);
    if (this.tracked) this.learn();
    return this.costUsd;
  }

  /** The run's estimates for later calls grow with what this one used; what it holds shrinks. */
  private learn(): void {
    const used = this.inputTokens + this.outputTokens;
    const tokens = Math.max(0, this.reservation.tokens - used);
    const cost = Math.max(0, this.reservation.cost - this.charged);
    const dTokens = tokens - this.heldTokens;
    const dCost = cost - this.heldCost;
    const lost = this.unestimated && used > 0 ? 1 : 0;
    if (lost === 1) this.unestimated = false;
    for (let r: BudgetUsage | undefined = this.run; r !== undefined; r = r.parent) {
      const f = r.flight;
      f.tokensReserved += dTokens;
      f.costReserved += dCost;
      f.unestimated -= lost;
      if (used > 0) f.seen = true;
      if (this.inputTokens > f.largestInput) f.largestInput = this.inputTokens;
      if (this.outputTokens > f.largestOutput) f.largestOutput = this.outputTokens;
      if (this.charged > f.largestCost) f.largestCost = this.charged;
    }
    this.heldTokens = tokens;
    this.heldCost = cost;
    wake(this.models);
  }

  private unpriced(model: string): void {
    this.models.reportUnpriced(model);
    if (!this.models.refuseUnpriced) return;
    // A call that cannot be priced counts as over the cost budget (never as $0).
    const shown = truncateString(model);
    for (let r: BudgetUsage | undefined = this.run; r !== undefined; r = r.parent) r.flight.unpriced ??= shown;
    const limit = this.models.limits.maxCostPerRun!;
    const details = budgetDetails('cost', limit, this.run?.costUsed ?? 0, 0, { model: shown });
    noteReached(this.run, details, this.overBudget === undefined); // flagged once, if not already at its start
  }

  returned(): void {
    if (!this.running) return;
    this.running = false;
    for (let r: BudgetUsage | undefined = this.run; r !== undefined; r = r.parent) r.flight.running--;
    wake(this.models);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.returned();
    if (!this.tracked) return;
    const lost = this.unestimated ? 1 : 0;
    for (let r: BudgetUsage | undefined = this.run; r !== undefined; r = r.parent) {
      const f = r.flight;
      f.tokensReserved -= this.heldTokens;
      f.costReserved -= this.heldCost;
      f.unestimated -= lost;
    }
    this.heldTokens = this.heldCost = 0;
    this.unestimated = false;
    wake(this.models);
  }
}

/** The first budget a call refused or flagged in the run: its run.end summary says so. */
function noteReached(run: BudgetUsage | undefined, details: BudgetDetails, flagged: boolean): void {
  if (run === undefined) return;
  run.flight.reached ??= details;
  if (flagged) run.flight.flagged++;
}

/** What the call holds while in flight: its declared numbers, else the largest the run has seen. */
function reservationFor(models: ModelPolicy, run: BudgetUsage, estimate: LlmEstimate): Reservation {
  let seen = false;
  let largestInput = 0;
  let largestOutput = 0;
  let largestCost = 0;
  for (let r: BudgetUsage | undefined = run; r !== undefined; r = r.parent) {
    const f = r.flight;
    seen ||= f.seen;
    largestInput = Math.max(largestInput, f.largestInput);
    largestOutput = Math.max(largestOutput, f.largestOutput);
    largestCost = Math.max(largestCost, f.largestCost);
  }
  const input = declared(estimate.inputTokens) ?? (seen ? largestInput : undefined);
  const output = declared(estimate.maxOutputTokens) ?? (seen ? largestOutput : undefined);
  if (input === undefined || output === undefined) return { tokens: 0, cost: 0, unestimated: true };
  const price = models.price(estimate.model);
  if (price === undefined && models.costBudget && !seen) return { tokens: 0, cost: 0, unestimated: true };
  return {
    tokens: input + output,
    cost: price === undefined ? largestCost : costOf(price, input, output),
    unestimated: false,
  };
}

type Verdict =
  | { readonly admit: true; readonly reservation: Reservation; readonly over: BudgetDetails | undefined }
  | { readonly admit: false; readonly details: BudgetDetails; readonly canWait: boolean };

/** The first run whose token or cost limit the call's admission would pass, given what is held. */
function blockedBy(models: ModelPolicy, run: BudgetUsage, reservation: Reservation): Verdict | undefined {
  const { maxTokensPerRun: tokens, maxCostPerRun: cost } = models.limits;
  for (let r: BudgetUsage | undefined = run; r !== undefined; r = r.parent) {
    const f = r.flight;
    const lone = reservation.unestimated && f.unestimated > 0;
    if (tokens !== undefined && (lone || !(r.tokensUsed + f.tokensReserved < tokens))) {
      const details = budgetDetails('tokens', tokens, r.tokensUsed, reservation.tokens, { reserved: f.tokensReserved });
      return { admit: false, details, canWait: f.running > 0 };
    }
    if (cost !== undefined && (lone || !(addUsd(r.costUsed, f.costReserved) < cost))) {
      const details = budgetDetails('cost', cost, r.costUsed, reservation.cost, { reserved: f.costReserved });
      return { admit: false, details, canWait: f.running > 0 };
    }
  }
  return undefined;
}

function judge(models: ModelPolicy, run: BudgetUsage | undefined, estimate: LlmEstimate, enforcing: boolean): Verdict {
  const model = estimate.model;
  if (models.refuseUnpriced && models.price(model) === undefined && !models.mayBePricedByResponse(model)) {
    const limit = models.limits.maxCostPerRun!;
    const details = budgetDetails('cost', limit, run?.costUsed ?? 0, 0, { model: truncateString(model) });
    if (enforcing) return { admit: false, details, canWait: false };
    return { admit: true, reservation: NONE, over: details };
  }
  const spent = models.exceeded(run);
  if (spent !== undefined) {
    return enforcing
      ? { admit: false, details: spent, canWait: false }
      : { admit: true, reservation: NONE, over: spent };
  }
  if (!models.spendBudget || run === undefined || !enforcing)
    return { admit: true, reservation: NONE, over: undefined };
  const reservation = reservationFor(models, run, estimate);
  return blockedBy(models, run, reservation) ?? { admit: true, reservation, over: undefined };
}

function open(
  models: ModelPolicy,
  run: UsageRun | undefined,
  model: string,
  reservation: Reservation,
  over: BudgetDetails | undefined,
  /** Whether this is a model call of its own (else only its usage counts: Mastra's chat span). */
  call = true,
): Ticket {
  if (call) {
    chargeLlm(run, 1, 0, 0);
    run?.recordLlmCall();
  }
  if (over !== undefined) noteReached(run, over, true);
  const tracked = models.spendBudget && run !== undefined;
  if (tracked) {
    for (let r: BudgetUsage | undefined = run; r !== undefined; r = r.parent) {
      const f = r.flight;
      f.tokensReserved += reservation.tokens;
      f.costReserved += reservation.cost;
      if (reservation.unestimated) f.unestimated++;
      f.running++;
    }
  }
  return new Ticket(models, run, model, reservation, over, tracked);
}

/** Admit a model call now, or throw BudgetExceededError (in enforce mode; monitor mode admits, flagged). */
export function admitLlm(
  models: ModelPolicy,
  run: UsageRun | undefined,
  estimate: LlmEstimate,
  enforcing: boolean,
): LlmTicket {
  const verdict = judge(models, run, estimate, enforcing);
  if (!verdict.admit) throw refusal(run, verdict);
  return open(models, run, estimate.model, verdict.reservation, verdict.over);
}

function refusal(run: BudgetUsage | undefined, verdict: { details: BudgetDetails; canWait: boolean }): Error {
  // Refused because the budget is spent (not only held): the run passed a limit.
  if (verdict.details.reserved === undefined) noteReached(run, verdict.details, false);
  return new BudgetExceededError(verdict.details);
}

/**
 * Whether a refusal from `admitLlm` may be waited out: calls in flight hold the room, and at least one
 * of them is still running, so their usage will free or fill it.
 */
export function mayWait(models: ModelPolicy, run: UsageRun | undefined, estimate: LlmEstimate): boolean {
  const verdict = judge(models, run, estimate, true);
  return !verdict.admit && verdict.canWait;
}

/** Admit a model call as soon as calls in flight leave room for it; rejects when no room can come. */
export function admitLlmWhenRoom(
  models: ModelPolicy,
  run: UsageRun | undefined,
  estimate: LlmEstimate,
  enforcing: boolean,
): Promise<LlmTicket> {
  return new Promise((resolve, reject) => {
    const attempt = (): boolean => {
      let verdict: Verdict;
      try {
        verdict = judge(models, run, estimate, enforcing);
      } catch (error) {
        reject(error);
        return true;
      }
      if (verdict.admit) resolve(open(models, run, estimate.model, verdict.reservation, verdict.over));
      else if (!verdict.canWait) reject(refusal(run, verdict));
      else return false;
      return true;
    };
    if (attempt()) return;
    const waiter = () => {
      if (attempt()) models.waiters.delete(waiter);
    };
    models.waiters.add(waiter);
  });
}

let waking = false;

/** Something in flight settled: let waiting calls, oldest first, try again. */
function wake(models: ModelPolicy): void {
  if (models.waiters.size === 0 || waking) return;
  waking = true;
  try {
    for (const waiter of [...models.waiters]) waiter();
  } finally {
    waking = false;
  }
}

/**
 * Another instrumentation's model call, ended: counted as a call, with its usage, toward the run and
 * every enclosing run. A processor cannot stop a call that has started; one that ran after a budget
 * was reached is flagged (and counted in the run's summary). Returns the budget it ran over, if any.
 */
export function countModelSpan(
  models: ModelPolicy,
  run: UsageRun,
  usage: { model: string; responseModel?: string | undefined; inputTokens: number; outputTokens: number },
  over: BudgetDetails | undefined,
  call = true,
): void {
  const ticket = open(models, run, usage.model, NONE, over, call);
  ticket.settle(usage, usage.responseModel);
  ticket.release();
}

/** What a run has spent and what it has left, for `run.spent()` and `alm.spent()`. */
export interface RunSpend {
  readonly runId: string;
  /** Counted in this run and its child runs. */
  readonly toolCalls: number;
  readonly llmCalls: number;
  readonly tokens: number;
  readonly costUsd: number;
  /** Held by model calls in flight whose usage is not known yet. */
  readonly reserved: { readonly tokens: number; readonly costUsd: number };
  /**
   * Left before each budget refuses (the least over this run and every enclosing run, what is held
   * not subtracted); a budget that is not set is absent.
   */
  readonly remaining: {
    readonly toolCalls?: number;
    readonly llmCalls?: number;
    readonly tokens?: number;
    readonly costUsd?: number;
  };
  /** The first budget this run or an enclosing run has reached, if any. */
  readonly exceeded: BudgetDetails | undefined;
}

function least(run: BudgetUsage, limit: number | undefined, used: (r: BudgetUsage) => number): number | undefined {
  if (limit === undefined) return undefined;
  let left = limit;
  for (let r: BudgetUsage | undefined = run; r !== undefined; r = r.parent) {
    const u = used(r);
    left = Math.min(left, u < limit ? limit - u : 0);
  }
  return left;
}

export function spendOf(run: UsageRun & { readonly runId: string }, models: ModelPolicy): RunSpend {
  const maxToolCalls = models.maxToolCallsPerRun;
  const { maxLlmCallsPerRun, maxTokensPerRun, maxCostPerRun } = models.limits;
  const remaining: { toolCalls?: number; llmCalls?: number; tokens?: number; costUsd?: number } = {};
  const toolCalls = least(run, maxToolCalls, (r) => r.toolCallsUsed);
  const llmCalls = least(run, maxLlmCallsPerRun, (r) => r.llmCallsUsed);
  const tokens = least(run, maxTokensPerRun, (r) => r.tokensUsed);
  const costUsd = least(run, maxCostPerRun, (r) => (r.flight.unpriced === undefined ? r.costUsed : Infinity));
  if (toolCalls !== undefined) remaining.toolCalls = toolCalls;
  if (llmCalls !== undefined) remaining.llmCalls = llmCalls;
  if (tokens !== undefined) remaining.tokens = tokens;
  if (costUsd !== undefined) remaining.costUsd = costUsd;
  return {
    runId: run.runId,
    toolCalls: run.toolCallsUsed,
    llmCalls: run.llmCallsUsed,
    tokens: run.tokensUsed,
    costUsd: run.costUsed,
    reserved: { tokens: Math.max(0, run.flight.tokensReserved), costUsd: Math.max(0, run.flight.costReserved) },
    remaining,
    exceeded: exceededToolBudget(run, maxToolCalls) ?? exceededLlmBudget(run, models.limits),
  };
}
