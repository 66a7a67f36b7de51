/**
 * Per-run budgets: tool calls, model calls, tokens and cost. Every run counts what ran in it and in
 * its child runs, so a check walks from the innermost run outwards and the first budget reached
 * refuses the call: a sub-agent cannot escape its parent's limits.
 */

export type BudgetName = 'tool_calls' | 'llm_calls' | 'tokens' | 'cost';

/** Why a call was refused, in numbers. `remaining` is `limit - spent`, never below 0. */
export interface BudgetDetails {
  readonly budget: BudgetName;
  readonly limit: number;
  /** Spent in the run whose budget was reached, before the refused call. */
  readonly spent: number;
  /** What the refused call would have added, as far as it is known before it starts: 1 for a call count, 0 for tokens and cost. */
  readonly attempted: number;
  readonly remaining: number;
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
}

export function budgetDetails(budget: BudgetName, limit: number, spent: number, attempted: number): BudgetDetails {
  return { budget, limit, spent, attempted, remaining: Math.max(0, limit - spent) };
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
    if (calls && maxCalls !== undefined && r.llmCallsUsed >= maxCalls) {
      return budgetDetails('llm_calls', maxCalls, r.llmCallsUsed, 1);
    }
    if (tokens !== undefined && r.tokensUsed >= tokens) return budgetDetails('tokens', tokens, r.tokensUsed, 0);
    if (cost !== undefined && r.costUsed >= cost) return budgetDetails('cost', cost, r.costUsed, 0);
  }
  return undefined;
}

/** `Budget exceeded: 1200/1000 tokens`, `Budget exceeded: $0.0012/$0.001 cost`, … */
export function budgetReason(d: BudgetDetails): string {
  const amount = (n: number) => (d.budget === 'cost' ? `$${Number(n.toPrecision(6))}` : String(n));
  const what = { tool_calls: 'tool calls', llm_calls: 'model calls', tokens: 'tokens', cost: 'cost' }[d.budget];
  return `Budget exceeded: ${amount(d.spent)}/${amount(d.limit)} ${what}`;
}

/** The first tool-call budget the run (or an enclosing run) has reached, if any. */
export function exceededToolBudget(run: BudgetUsage | undefined, max: number | undefined): BudgetDetails | undefined {
  if (max === undefined) return undefined;
  for (let r = run; r !== undefined; r = r.parent) {
    if (r.toolCallsUsed >= max) return budgetDetails('tool_calls', max, r.toolCallsUsed, 1);
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
    r.costUsed += cost;
  }
}

/** A model's price in USD per million tokens. */
export interface ModelPrice {
  inputPerMillion: number;
  outputPerMillion: number;
}

export function costOf(price: ModelPrice, inputTokens: number, outputTokens: number): number {
  return (inputTokens * price.inputPerMillion + outputTokens * price.outputPerMillion) / 1e6;
}
