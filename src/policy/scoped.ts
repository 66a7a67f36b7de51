/**
 * Scoped budgets (`policy.budgets`): limits per run, per agent or per label value (tenant, user, …),
 * over a window or over the scope's lifetime, kept in a BudgetStore (this process, or Redis for every
 * process). Every call counts toward every budget whose scope applies to it:
 *
 * - scope 'run': the run's id (a run continued in another service keeps its id: see propagation);
 * - scope 'agent': the agentId;
 * - any other scope names a label: the budget applies to runs that carry that label, one counter per
 *   value (`{ scope: 'tenant' }` counts tenant 'acme' and tenant 'globex' apart).
 *
 * Tool calls and model calls take 1 unit of their count budgets, atomically and never above the limit.
 * Tokens and cost are known only after a model call: a call holds a reservation (its declared maximum,
 * else what the in-process admission estimated) and settles to its actual usage afterwards. A call that
 * declared its maximum is admitted only if the reservation fits (never passed); one without is admitted
 * while the counter is below the limit, and the limit may be passed by what calls admitted then use
 * beyond their reservations (docs/budgets.md).
 */
import type { BudgetDetails, BudgetName } from './budgets';
import { MemoryStore, type Admission, type BudgetStore, type Charge } from './store';
import { windowAt, windowMs } from './windows';

export interface ScopedBudgetConfig {
  scope: string;
  window?: string | undefined;
  maxToolCalls?: number | undefined;
  maxLlmCalls?: number | undefined;
  maxTokens?: number | undefined;
  maxCostUsd?: number | undefined;
}

/** Who a call belongs to, for choosing its budgets. */
export interface CallScope {
  readonly runId: string | undefined;
  readonly agentId: string;
  readonly labels: Readonly<Record<string, string>> | undefined;
}

/** The scope of a call in a run (local or remote) of an agent. */
export function callScope(
  agentId: string,
  run: { readonly runId: string; readonly labels: Readonly<Record<string, string>> | undefined } | undefined,
): CallScope {
  return { runId: run?.runId, agentId, labels: run?.labels };
}

/** A refusal's details: which budget, for which key, over which window. */
export interface ScopedBudgetDetails extends BudgetDetails {
  readonly scope: string;
  readonly key: string;
  readonly window?: string;
}

/** Lifetime counters of a run expire this long after its first call: runs end, their keys go. */
const RUN_LIFETIME_MS = 7 * 86_400_000;
/** A window's counter outlives the window by this much (clocks of processes differ a little). */
const WINDOW_SLACK_MS = 60_000;

interface Budget {
  readonly scope: string;
  readonly window: string | undefined;
  readonly windowMs: number | undefined;
  readonly limits: Partial<Record<BudgetName, number>>;
}

interface Applied {
  readonly budget: Budget;
  /** The scope's key: the run id, the agent id or the label's value. */
  readonly key: string;
  readonly prefix: string;
  readonly ttlMs: number;
}

const MEASURES: Record<BudgetName, keyof ScopedBudgetConfig> = {
  tool_calls: 'maxToolCalls',
  llm_calls: 'maxLlmCalls',
  tokens: 'maxTokens',
  cost: 'maxCostUsd',
};

/** A model call's hold on the scoped budgets: settle the reservation to what it used, once. */
export interface ScopedHold {
  settle(tokens: number, cost: number): void;
}

const NO_HOLD: ScopedHold = { settle: () => undefined };

export class ScopedBudgets {
  private readonly budgets: readonly Budget[];
  readonly tools: boolean;
  readonly models: boolean;

  constructor(
    configs: readonly ScopedBudgetConfig[],
    readonly store: BudgetStore = new MemoryStore(),
    private readonly clock: () => number = Date.now,
  ) {
    this.budgets = configs.map((c) => {
      const limits: Partial<Record<BudgetName, number>> = {};
      for (const [name, field] of Object.entries(MEASURES) as [BudgetName, keyof ScopedBudgetConfig][]) {
        const limit = c[field];
        if (typeof limit === 'number') limits[name] = limit;
      }
      return {
        scope: c.scope,
        window: c.window,
        windowMs: c.window === undefined ? undefined : windowMs(c.window),
        limits,
      };
    });
    this.tools = this.budgets.some((b) => b.limits.tool_calls !== undefined);
    this.models = this.budgets.some(
      (b) => b.limits.llm_calls !== undefined || b.limits.tokens !== undefined || b.limits.cost !== undefined,
    );
  }

  get shared(): boolean {
    return this.store.shared;
  }

  /** The budgets that apply to a call, with their keys for this moment's windows. */
  private applied(scope: CallScope, now: number): Applied[] {
    const out: Applied[] = [];
    for (const budget of this.budgets) {
      let key: string | undefined;
      if (budget.scope === 'run') key = scope.runId;
      else if (budget.scope === 'agent') key = scope.agentId;
      else key = scope.labels?.[budget.scope];
      if (key === undefined) continue;
      let suffix = 'all';
      let ttlMs = budget.scope === 'run' ? RUN_LIFETIME_MS : 0;
      if (budget.windowMs !== undefined) {
        const w = windowAt(budget.windowMs, now);
        suffix = `${budget.window}:${w.index}`;
        ttlMs = w.endsAt - now + WINDOW_SLACK_MS;
      }
      out.push({ budget, key, prefix: `${budget.scope}=${encodeURIComponent(key)}:${suffix}`, ttlMs });
    }
    return out;
  }

  private details(a: Applied, measure: BudgetName, current: number, attempted: number): ScopedBudgetDetails {
    const limit = a.budget.limits[measure]!;
    const details: ScopedBudgetDetails = {
      budget: measure,
      limit,
      spent: current,
      attempted,
      remaining: Math.max(0, limit - current),
      scope: a.budget.scope,
      key: a.key,
    };
    return a.budget.window === undefined ? details : { ...details, window: a.budget.window };
  }

  /** `Budget exceeded: 60/60 tool calls (tenant=acme per 1d)`. */
  static reason(d: ScopedBudgetDetails): string {
    const amount = (n: number) => (d.budget === 'cost' ? `$${Number(n.toPrecision(6))}` : String(n));
    const what = { tool_calls: 'tool calls', llm_calls: 'model calls', tokens: 'tokens', cost: 'cost' }[d.budget];
    const where = `${d.scope}=${d.key}${d.window === undefined ? '' : ` per ${d.window}`}`;
    return `Budget exceeded: ${amount(d.spent)}/${amount(d.limit)} ${what} (${where})`;
  }

  /**
   * Take one tool call from every tool-call budget that applies, or none: undefined when admitted, the
   * refusal's details otherwise. Synchronous with the in-memory store; a promise with a shared one
   * (which rejects with BudgetStoreError when the budget could not be checked and failMode is 'closed').
   */
  admitTool(scope: CallScope): ScopedBudgetDetails | undefined | Promise<ScopedBudgetDetails | undefined> {
    const { charges, admit } = this.admit(scope, [{ measure: 'tool_calls', amount: 1, strict: true }]);
    return charges.length === 0 ? undefined : admit();
  }

  /**
   * The charges of a call on every budget that applies to it (one per budget and wanted measure it
   * limits), and the admission of all of them at once: undefined when admitted, else the details of
   * the first one refused.
   */
  private admit(
    scope: CallScope,
    wanted: readonly { measure: BudgetName; amount: number; strict: boolean }[],
  ): {
    charges: readonly (Charge & { measure: BudgetName })[];
    admit(): ScopedBudgetDetails | undefined | Promise<ScopedBudgetDetails | undefined>;
  } {
    const charges: (Charge & { measure: BudgetName })[] = [];
    const owners: Applied[] = [];
    for (const a of this.applied(scope, this.clock())) {
      for (const { measure, amount, strict } of wanted) {
        const limit = a.budget.limits[measure];
        if (limit === undefined) continue;
        charges.push({ key: `${a.prefix}:${measure}`, limit, amount, strict, ttlMs: a.ttlMs, measure });
        owners.push(a);
      }
    }
    const verdict = (admission: Admission) => {
      if (admission.ok) return undefined;
      const charge = charges[admission.index]!;
      return this.details(owners[admission.index]!, charge.measure, admission.current, charge.amount);
    };
    return {
      charges,
      admit: () => {
        const admission = this.store.admit(charges);
        return admission instanceof Promise ? admission.then(verdict) : verdict(admission);
      },
    };
  }

  /**
   * Admit a model call: one unit of every model-call budget, and a reservation of `tokens` and `cost`
   * (what it may use) on every token and cost budget that applies; `declared` makes the reservation
   * strict. Returns the hold to settle, or the refusal's details.
   */
  admitLlm(
    scope: CallScope,
    tokens: number,
    cost: number,
    declared: boolean,
  ): { refused: ScopedBudgetDetails } | ScopedHold | Promise<{ refused: ScopedBudgetDetails } | ScopedHold> {
    const { charges, admit } = this.admit(scope, [
      { measure: 'llm_calls', amount: 1, strict: true },
      { measure: 'tokens', amount: tokens, strict: declared },
      { measure: 'cost', amount: cost, strict: declared },
    ]);
    if (charges.length === 0) return NO_HOLD;
    const reserved = charges.filter((c) => c.measure !== 'llm_calls');
    const hold = (refused: ScopedBudgetDetails | undefined): { refused: ScopedBudgetDetails } | ScopedHold => {
      if (refused !== undefined) return { refused };
      if (reserved.length === 0) return NO_HOLD;
      let settled = false;
      return {
        settle: (usedTokens: number, usedCost: number) => {
          if (settled) return;
          settled = true;
          const changes = reserved
            .map((r) => ({
              key: r.key,
              delta: (r.measure === 'tokens' ? usedTokens : usedCost) - r.amount,
              ttlMs: r.ttlMs,
            }))
            .filter((c) => c.delta !== 0 && Number.isFinite(c.delta));
          if (changes.length > 0) this.track(this.store.adjust(changes));
        },
      };
    };
    const verdict = admit();
    return verdict instanceof Promise ? verdict.then(hold) : hold(verdict);
  }

  /** Settlements on their way to a shared store: shutdown waits for them. */
  private readonly pending = new Set<Promise<void>>();

  private track(result: void | Promise<void>): void {
    if (!(result instanceof Promise)) return;
    const settled = result.catch(() => undefined).finally(() => this.pending.delete(settled));
    this.pending.add(settled);
  }

  /** Wait for settlements still on their way, then close the store (a client alm-otel made). */
  async close(): Promise<void> {
    await Promise.all([...this.pending]);
    await this.store.close?.();
  }

  /** Every budget that applies to the scope: its limits and what its counters hold now. */
  spent(scope: CallScope): ScopedSpend[] | Promise<ScopedSpend[]> {
    const applied = this.applied(scope, this.clock());
    const keys: string[] = [];
    const slots: { a: Applied; measure: BudgetName }[] = [];
    for (const a of applied) {
      for (const measure of Object.keys(a.budget.limits) as BudgetName[]) {
        keys.push(`${a.prefix}:${measure}`);
        slots.push({ a, measure });
      }
    }
    const build = (values: number[]): ScopedSpend[] =>
      slots.map(({ a, measure }, i) => ({
        scope: a.budget.scope,
        key: a.key,
        ...(a.budget.window === undefined ? {} : { window: a.budget.window }),
        budget: measure,
        limit: a.budget.limits[measure]!,
        used: values[i] ?? 0,
        remaining: Math.max(0, a.budget.limits[measure]! - (values[i] ?? 0)),
      }));
    const values = this.store.read(keys);
    return values instanceof Promise ? values.then(build) : build(values);
  }
}

export interface ScopedSpend {
  readonly scope: string;
  readonly key: string;
  readonly window?: string;
  readonly budget: BudgetName;
  readonly limit: number;
  readonly used: number;
  readonly remaining: number;
}
