/**
 * Per-run budgets: tool calls, model calls, tokens and cost. Every run counts what ran in it and in
 * its child runs, so a check walks from the innermost run outwards and the first budget reached
 * refuses the call: a sub-agent cannot escape its parent's limits.
 *
 * Every comparison is written `!(used < limit)`: a count that became NaN (hostile numbers) reads as
 * over the limit, never under it. Hostile numbers only ever make a budget stricter.
 */

export type BudgetName = 'tool_calls' | 'llm_calls' | 'tokens' | 'cost';

/** Why a call was refused, in numbers. `remaining` is `limit - spent`, never below 0. */
export interface BudgetDetails {
  readonly budget: BudgetName;
  readonly limit: number;
  /** Spent in the run whose budget was reached, before the refused call. */
  readonly spent: number;
  /**
   * What the refused call would have added, as far as it is known before it starts: 1 for a call
   * count; for tokens and cost, what it would have held (its reservation), else 0.
   */
  readonly attempted: number;
  readonly remaining: number;
  /** Held by model calls in flight, when they (not what was spent) left no room for the call. */
  readonly reserved?: number;
  /** The model that has no price, when that is why a cost budget refused the call. */
  readonly model?: string;
}

export interface BudgetLimits {
  maxToolCallsPerRun?: number | undefined;
  maxLlmCallsPerRun?: number | undefined;
  maxTokensPerRun?: number | undefined;
  maxCostPerRun?: number | undefined;
}

/** What one run has used; `parent` is the enclosing run, whose budget the calls count toward too. */
export interface BudgetUsage {
  readonly parent: BudgetUsage | undefined;
  toolCallsUsed: number;
  llmCallsUsed: number;
  tokensUsed: number;
  costUsed: number;
  /** Model-call admission (policy/admission.ts): what calls in flight hold, and what calls have used. */
  flight: FlightState;
}

/** The admission state of one run (and, through charges, of every run inside it). */
export class FlightState {
  /** Tokens and USD held by admitted model calls not yet settled. */
  tokensReserved = 0;
  costReserved = 0;
  /** Admitted model calls that hold no estimate (nothing declared, nothing seen yet). */
  unestimated = 0;
  /** Admitted model calls whose function is still running (a waiting call waits on them). */
  running = 0;
  /** Whether a model call's usage has been seen in this run; and the largest one call used. */
  seen = false;
  largestInput = 0;
  largestOutput = 0;
  largestCost = 0;
  /** A model call ran under a cost budget with no price: the cost budget counts as spent. */
  unpriced: string | undefined = undefined;
  /** The first model budget that refused or flagged a call in this run. */
  reached: BudgetDetails | undefined = undefined;
  /** Model calls that ran past a limit (monitor mode, other instrumentations' spans), flagged. */
  flagged = 0;
}

export function budgetDetails(
  budget: BudgetName,
  limit: number,
  spent: number,
  attempted: number,
  extra?: { reserved?: number; model?: string },
): BudgetDetails {
  const remaining = spent < limit ? limit - spent : 0;
  return { budget, limit, spent, attempted, remaining, ...extra };
}

/** Whether `used` has reached `limit` (NaN has). */
export function reached(used: number, limit: number): boolean {
  return !(used < limit);
}

/**
 * The first model budget the run (or an enclosing run) has reached, if any: with `calls`, the
 * model-call count too (for a model call), else only what the run spent, tokens and cost (for a tool
 * call: a run that has spent its allowance stops acting, not only asking).
 */
export function exceededLlmBudget(
  run: BudgetUsage | undefined,
  limits: BudgetLimits,
  calls = true,
): BudgetDetails | undefined {
  const { maxLlmCallsPerRun: maxCalls, maxTokensPerRun: tokens, maxCostPerRun: cost } = limits;
  for (let r = run; r !== undefined; r = r.parent) {
    if (calls && maxCalls !== undefined && reached(r.llmCallsUsed, maxCalls)) {
      return budgetDetails('llm_calls', maxCalls, r.llmCallsUsed, 1);
    }
    if (tokens !== undefined && reached(r.tokensUsed, tokens)) return budgetDetails('tokens', tokens, r.tokensUsed, 0);
    if (cost !== undefined) {
      const model = r.flight.unpriced;
      if (model !== undefined) return budgetDetails('cost', cost, r.costUsed, 0, { model });
      if (reached(r.costUsed, cost)) return budgetDetails('cost', cost, r.costUsed, 0);
    }
  }
  return undefined;
}

function amount(budget: BudgetName, n: number): string {
  return budget === 'cost' ? `$${Number(n.toPrecision(6))}` : String(n);
}

/** `Budget exceeded: 1200/1000 tokens`, `Budget exceeded: $0.0012/$0.001 cost`, … */
export function budgetReason(d: BudgetDetails): string {
  const what = { tool_calls: 'tool calls', llm_calls: 'model calls', tokens: 'tokens', cost: 'cost' }[d.budget];
  if (d.model !== undefined) {
    return `Budget exceeded: model '${d.model}' has no price in policy.prices, so maxCostPerRun (${amount(d.budget, d.limit)}) cannot count its calls`;
  }
  const base = `Budget exceeded: ${amount(d.budget, d.spent)}/${amount(d.budget, d.limit)} ${what}`;
  return d.reserved === undefined ? base : `${base}, ${amount(d.budget, d.reserved)} held by model calls in flight`;
}

/** The first tool-call budget the run (or an enclosing run) has reached, if any. */
export function exceededToolBudget(run: BudgetUsage | undefined, max: number | undefined): BudgetDetails | undefined {
  if (max === undefined) return undefined;
  for (let r = run; r !== undefined; r = r.parent) {
    if (reached(r.toolCallsUsed, max)) return budgetDetails('tool_calls', max, r.toolCallsUsed, 1);
  }
  return undefined;
}

/** Count `delta` tool calls in the run and every enclosing run. */
export function chargeToolCalls(run: BudgetUsage | undefined, delta: number): void {
  for (let r = run; r !== undefined; r = r.parent) r.toolCallsUsed += delta;
}

/** Count a model call (`calls` 1 when it starts), its tokens and its cost in the run and every enclosing run. */
export function chargeLlm(run: BudgetUsage | undefined, calls: number, tokens: number, cost: number): void {
  for (let r = run; r !== undefined; r = r.parent) {
    r.llmCallsUsed += calls;
    r.tokensUsed += tokens;
    r.costUsed = addUsd(r.costUsed, cost);
  }
}

/** A model's price in USD per million tokens. */
export interface ModelPrice {
  inputPerMillion: number;
  outputPerMillion: number;
}

/** Most tokens one count may hold: beyond it (1e308, Infinity, NaN from a hostile source) it saturates. */
export const MAX_TOKENS = Number.MAX_SAFE_INTEGER;

/** A token count from an untrusted number: whole, 0 or more; NaN and too large saturate at MAX_TOKENS. */
export function saturatedTokens(n: number): number {
  if (!(n < MAX_TOKENS)) return MAX_TOKENS; // NaN, Infinity, 1e308
  return n > 0 ? Math.round(n) : 0;
}

/** A sum of USD that never becomes NaN (Infinity - Infinity): it only grows, to Infinity at most. */
export function addUsd(a: number, b: number): number {
  const sum = a + b;
  return Number.isNaN(sum) ? Infinity : sum;
}

/** The cost of `inputTokens` and `outputTokens`; Infinity rather than NaN when the numbers overflow. */
export function costOf(price: ModelPrice, inputTokens: number, outputTokens: number): number {
  const cost = (inputTokens * price.inputPerMillion + outputTokens * price.outputPerMillion) / 1e6;
  return Number.isNaN(cost) ? Infinity : cost;
}
