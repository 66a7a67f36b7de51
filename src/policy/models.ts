/** Model-call policy: the per-run model, token and cost budgets, and the user's prices. */
import type { PolicyConfig } from '../config/schema';
import { truncateString } from '../events/capture';
import { exceededLlmBudget, type BudgetDetails, type BudgetLimits, type BudgetUsage, type ModelPrice } from './budgets';

/** A run as model usage is counted in it: its budgets (and its parents') and its summary. */
export interface UsageRun extends BudgetUsage {
  recordLlmCall(): void;
  recordLlmUsage(inputTokens: number, outputTokens: number, costUsd: number): void;
}

export interface Tokens {
  readonly inputTokens: number;
  readonly outputTokens: number;
}

function escape(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}

export class ModelPolicy {
  readonly limits: BudgetLimits;
  /** The tool-call budget, for what `run.spent()` reports (ToolPolicy enforces it). */
  readonly maxToolCallsPerRun: number | undefined;
  /** Whether prices are configured: run summaries then carry `cost_usd`. */
  readonly priced: boolean;
  /** Whether a token or cost budget is set: model calls then hold reservations (policy/admission.ts). */
  readonly spendBudget: boolean;
  /** Under a cost budget, a model call with no price is refused ('refuse', the default) or counted as $0 ('allow'). */
  readonly refuseUnpriced: boolean;
  private readonly exact: ReadonlyMap<string, ModelPrice>;
  /** `*` globs, in the order the prices were given: the first that matches prices the model. */
  private readonly globs: readonly (readonly [RegExp, ModelPrice])[];
  private readonly keys: readonly string[];
  /** Calls waiting for room (policy/admission.ts): each re-checks when a call in flight settles. */
  readonly waiters = new Set<() => void>();
  private readonly reportedUnpriced = new Set<string>();

  constructor(
    config: PolicyConfig,
    readonly report: (error: unknown) => void = () => {},
  ) {
    this.limits = {
      maxLlmCallsPerRun: config.maxLlmCallsPerRun,
      maxTokensPerRun: config.maxTokensPerRun,
      maxCostPerRun: config.maxCostPerRun,
    };
    this.maxToolCallsPerRun = config.maxToolCallsPerRun;
    const entries = Object.entries(config.prices);
    this.keys = entries.map(([key]) => key);
    this.exact = new Map(entries.filter(([key]) => !key.includes('*')));
    this.globs = entries
      .filter(([key]) => key.includes('*'))
      .map(([key, price]) => [new RegExp(`^${key.split('*').map(escape).join('.*')}$`, 's'), price] as const);
    this.priced = entries.length > 0;
    this.spendBudget = config.maxTokensPerRun !== undefined || config.maxCostPerRun !== undefined;
    this.refuseUnpriced = config.maxCostPerRun !== undefined && config.unpricedModels === 'refuse';
  }

  get costBudget(): boolean {
    return this.limits.maxCostPerRun !== undefined;
  }

  private lookup(model: string): ModelPrice | undefined {
    const price = this.exact.get(model);
    if (price !== undefined) return price;
    for (const [pattern, p] of this.globs) if (pattern.test(model)) return p;
    return undefined;
  }

  /** A model's price: the request model's (exact key, else the first matching glob), else the response model's. */
  price(model: string, responseModel?: string): ModelPrice | undefined {
    return this.lookup(model) ?? (responseModel === undefined ? undefined : this.lookup(responseModel));
  }

  /**
   * Whether a call of a request model with no price may still be priced by its response model: some
   * key of `policy.prices` begins with the request model's name (a dated or versioned id, as
   * `gpt-4o-2024-08-06` for `gpt-4o`). Otherwise no response model it could answer with is priced.
   */
  mayBePricedByResponse(model: string): boolean {
    return this.keys.some((key) => key.startsWith(model));
  }

  /** Tell onError, once per model, that a model's calls are not priced. */
  reportUnpriced(model: string): void {
    if (this.reportedUnpriced.has(model) || this.reportedUnpriced.size > 1000) return;
    this.reportedUnpriced.add(model);
    const shown = truncateString(model);
    this.report(
      new Error(
        this.refuseUnpriced
          ? `no price for model '${shown}' in policy.prices: its call counts as over maxCostPerRun`
          : `no price for model '${shown}' in policy.prices: its calls' cost is not counted`,
      ),
    );
  }

  /** The first model budget reached by the run or an enclosing run, if any. */
  exceeded(run: BudgetUsage | undefined): BudgetDetails | undefined {
    return exceededLlmBudget(run, this.limits);
  }
}
