/** Model-call policy: the per-run model, token and cost budgets, and the user's prices. */
import type { PolicyConfig } from '../config/schema';
import {
  chargeLlm,
  costOf,
  exceededLlmBudget,
  type BudgetDetails,
  type BudgetLimits,
  type BudgetUsage,
} from './budgets';

/** A run as model usage is counted in it: its budgets (and its parents') and its summary. */
export interface UsageRun extends BudgetUsage {
  recordLlmUsage(inputTokens: number, outputTokens: number, costUsd: number): void;
}

export interface Tokens {
  readonly inputTokens: number;
  readonly outputTokens: number;
}

export class ModelPolicy {
  readonly limits: BudgetLimits;
  /** Whether prices are configured: run summaries then carry `cost_usd`. */
  readonly priced: boolean;
  private readonly prices: ReadonlyMap<string, PolicyConfig['prices'][string]>;

  constructor(config: PolicyConfig) {
    this.limits = {
      maxLlmCallsPerRun: config.maxLlmCallsPerRun,
      maxTokensPerRun: config.maxTokensPerRun,
      maxCostPerRun: config.maxCostPerRun,
    };
    this.prices = new Map(Object.entries(config.prices));
    this.priced = this.prices.size > 0;
  }

  get costBudget(): boolean {
    return this.limits.maxCostPerRun !== undefined;
  }

  /** Whether a model has a price: the request's model name exactly, else the response's. */
  hasPrice(model: string, responseModel?: string): boolean {
    return this.prices.has(model) || (responseModel !== undefined && this.prices.has(responseModel));
  }

  /** The cost of a call in USD, or null when the model has no price. */
  cost(model: string, responseModel: string | undefined, inputTokens: number, outputTokens: number): number | null {
    const price = this.prices.get(model) ?? (responseModel === undefined ? undefined : this.prices.get(responseModel));
    return price === undefined ? null : costOf(price, inputTokens, outputTokens);
  }

  private readonly reportedUnpriced = new Set<string>();

  /** Tell onError, once per model, that a model's calls are not priced (their cost counts as 0). */
  reportUnpriced(model: string, report: (error: unknown) => void): void {
    if (this.reportedUnpriced.has(model)) return;
    this.reportedUnpriced.add(model);
    report(new Error(`no price for model '${model}' in policy.prices: its calls' cost is not counted`));
  }

  /**
   * One model call's usage grew from `from` to `to` tokens: count the difference, and its cost, toward
   * the run's budgets (and every enclosing run's) and its summary. Returns the call's cost so far, or
   * null when its model has no price (then `onError` is told once per model, if prices are configured).
   */
  charge(
    run: UsageRun | undefined,
    model: string,
    responseModel: string | undefined,
    from: Tokens,
    to: Tokens,
    report: (error: unknown) => void,
  ): number | null {
    const before = this.cost(model, responseModel, from.inputTokens, from.outputTokens) ?? 0;
    const after = this.cost(model, responseModel, to.inputTokens, to.outputTokens);
    if (after === null && this.priced) this.reportUnpriced(model, report);
    const input = to.inputTokens - from.inputTokens;
    const output = to.outputTokens - from.outputTokens;
    const dollars = after === null ? 0 : after - before;
    chargeLlm(run, 0, input + output, dollars);
    run?.recordLlmUsage(input, output, dollars);
    return after;
  }

  /** The first model budget reached by the run or an enclosing run, if any. */
  exceeded(run: BudgetUsage | undefined): BudgetDetails | undefined {
    return exceededLlmBudget(run, this.limits);
  }
}
