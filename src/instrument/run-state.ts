/** Per-run state: the tool-call budget and the counters behind the run.end summary. */
import type { ToolStatus } from '../events/record';
import type { RunSummary } from '../events/schema';
import type { LlmTicket } from '../policy/admission';
import {
  FlightState,
  MAX_TOKENS,
  budgetDetails,
  reached,
  type BudgetLimits,
  type BudgetUsage,
} from '../policy/budgets';
import * as sc from '../semconv';

export class RunState implements BudgetUsage {
  // Budget counts: what ran in this run and in its child runs (see policy/budgets.ts).
  /** Tool calls that ran (or will run). */
  toolCallsUsed = 0;
  llmCallsUsed = 0;
  tokensUsed = 0;
  costUsed = 0;
  /** Model-call admission: reservations of calls in flight, estimates, limits reached (policy/admission.ts). */
  readonly flight = new FlightState();
  /** Set when the run's function settled: events of its operations after that are dropped (and counted). */
  ended = false;
  /** Model calls that returned before their usage was known (streams): released when the run ends. */
  private awaitingUsage: Set<LlmTicket> | undefined = undefined;
  // The summary's counts: this run's own calls.
  private total = 0;
  private allowed = 0;
  private denied = 0;
  private errors = 0;
  private toolMsSum = 0;
  private toolMsCount = 0;
  private policyMsSum = 0;
  private policyMsCount = 0;
  /** Attempts that were retries (attempt > 1) of a tool with `retry`. */
  retried = 0;
  tasksCompleted = 0;
  tasksFailed = 0;
  handoffs = 0;
  private llmCalls = 0;
  private inputTokens = 0;
  private outputTokens = 0;
  private costUsd = 0;

  /** The run's labels (inherited from its parent, its own over them), if any. */
  labels: Readonly<Record<string, string>> | undefined = undefined;

  constructor(
    readonly runId: string,
    /** The enclosing run: this run's calls count toward its budgets too. */
    readonly parent: RunState | undefined = undefined,
    /** Whether costs are priced (policy.prices given): the summary then carries `cost_usd`. */
    private readonly priced = false,
  ) {}

  /**
   * Tool calls a framework asked about ahead and policy allowed (AI SDK 7's `toolApproval`), by the
   * framework's call id: each took its tool-call slot then, so that the calls of one step cannot
   * overrun the budget together, and the call that runs under that id takes no second one. Those that
   * have not started by the next turn of the event loop (another approver declined them, the step
   * ended) give their slots back (refuseAhead).
   */
  private approved: Set<string> | undefined = undefined;

  /** A call allowed ahead of its execution, its slot taken (see `approved`). */
  approve(callId: string): void {
    (this.approved ??= new Set()).add(callId);
  }

  /** Whether the call with this id was allowed ahead (its slot taken then); true once only. */
  takeApproved(callId: string | undefined): boolean {
    return callId !== undefined && this.approved !== undefined && this.approved.delete(callId);
  }

  /** Whether any call allowed ahead has not run yet. */
  get awaitingApproved(): boolean {
    return this.approved !== undefined && this.approved.size > 0;
  }

  /** Forget the calls allowed ahead that have not run (they will not): returns how many slots they held. */
  releaseApproved(): number {
    const count = this.approved?.size ?? 0;
    this.approved = undefined;
    return count;
  }

  /** A model call returned without usage: it holds its reservation until its usage comes or the run ends. */
  awaitUsage(ticket: LlmTicket): void {
    (this.awaitingUsage ??= new Set()).add(ticket);
  }

  usageArrived(ticket: LlmTicket): void {
    this.awaitingUsage?.delete(ticket);
  }

  /** The run's function settled. */
  end(): void {
    this.ended = true;
    const waiting = this.awaitingUsage;
    this.awaitingUsage = undefined;
    if (waiting !== undefined) for (const ticket of waiting) ticket.release();
  }

  /** A model call that ran in this run (refused calls are not counted, as denied tool calls are not in the budget). */
  recordLlmCall(): void {
    this.llmCalls++;
  }

  /** Usage of a model call made in this run; may arrive after the call (streams). */
  recordLlmUsage(inputTokens: number, outputTokens: number, costUsd: number): void {
    this.inputTokens += inputTokens;
    this.outputTokens += outputTokens;
    this.costUsd += costUsd;
  }

  /** As the reference: averages count only calls whose latency was above zero. */
  recordToolCall(allowed: boolean, status: ToolStatus, toolMs: number, policyMs: number): void {
    this.total++;
    if (allowed) this.allowed++;
    else this.denied++;
    if (status === 'error') this.errors++;
    if (toolMs > 0) {
      this.toolMsSum += toolMs;
      this.toolMsCount++;
    }
    if (policyMs > 0) {
      this.policyMsSum += policyMs;
      this.policyMsCount++;
    }
  }

  summary(totalRunMs: number, limits?: BudgetLimits): RunSummary {
    const summary: RunSummary = {
      tool_calls: {
        total: this.total,
        allowed: this.allowed,
        denied: this.denied,
        error: this.errors,
        retried: this.retried,
      },
      latencies: {
        avg_tool_ms: this.toolMsCount > 0 ? this.toolMsSum / this.toolMsCount : 0,
        avg_policy_ms: this.policyMsCount > 0 ? this.policyMsSum / this.policyMsCount : 0,
        total_run_ms: totalRunMs,
      },
      tasks: { completed: this.tasksCompleted, failed: this.tasksFailed },
      handoffs: this.handoffs,
    };
    // Additive, and only in runs that made model calls: other runs' summaries stay the reference's.
    if (this.llmCalls > 0) {
      summary.llm_calls = this.llmCalls;
      summary.tokens = {
        input: Math.min(this.inputTokens, MAX_TOKENS),
        output: Math.min(this.outputTokens, MAX_TOKENS),
      };
      if (this.priced) summary.cost_usd = roundUsd(this.costUsd);
    }
    const passed = this.passedLimit(limits);
    if (passed !== undefined) summary.budget_exceeded = passed;
    return summary;
  }

  /**
   * The model budget this run passed, if any: its own token or cost spend reached a limit, or a call
   * in it was refused or flagged by one (its own or an enclosing run's). Additive, so absent otherwise.
   */
  private passedLimit(limits: BudgetLimits | undefined): RunSummary['budget_exceeded'] {
    if (limits === undefined) return undefined;
    const { maxTokensPerRun: tokens, maxCostPerRun: cost } = limits;
    const unpriced = this.flight.unpriced;
    let d = this.flight.reached;
    if (tokens !== undefined && reached(this.tokensUsed, tokens)) {
      d = budgetDetails('tokens', tokens, this.tokensUsed, 0);
    } else if (cost !== undefined && unpriced !== undefined) {
      d = budgetDetails('cost', cost, this.costUsed, 0, { model: unpriced });
    } else if (cost !== undefined && reached(this.costUsed, cost)) {
      d = budgetDetails('cost', cost, this.costUsed, 0);
    }
    if (d === undefined) return undefined;
    const passed: NonNullable<RunSummary['budget_exceeded']> = {
      budget: d.budget,
      limit: d.limit,
      spent: d.budget === 'cost' ? finiteUsd(d.spent) : Math.min(d.spent, MAX_TOKENS),
      flagged_llm_calls: this.flight.flagged,
    };
    if (d.model !== undefined) passed.model = d.model;
    return passed;
  }
}

/** USD to a millionth of a cent: float sums of per-token prices carry noise below that. */
export function roundUsd(usd: number): number {
  return finiteUsd(Math.round(usd * 1e8) / 1e8);
}

/** USD as JSON can carry it: an overflowed (Infinity) or NaN sum shows as the largest number. */
function finiteUsd(usd: number): number {
  return usd >= 0 && usd < Infinity ? usd : Number.MAX_VALUE;
}

/** The summary as flat span attributes (recordFromSpan reads them back). */
export function summaryAttributes(s: RunSummary): Record<string, number | string> {
  const attributes: Record<string, number | string> = {
    [sc.ATTR_ALM_RUN_TOOL_CALLS_TOTAL]: s.tool_calls.total,
    [sc.ATTR_ALM_RUN_TOOL_CALLS_ALLOWED]: s.tool_calls.allowed,
    [sc.ATTR_ALM_RUN_TOOL_CALLS_DENIED]: s.tool_calls.denied,
    [sc.ATTR_ALM_RUN_TOOL_CALLS_ERROR]: s.tool_calls.error,
    [sc.ATTR_ALM_RUN_TOOL_CALLS_RETRIED]: s.tool_calls.retried,
    [sc.ATTR_ALM_RUN_LATENCY_AVG_TOOL_MS]: s.latencies.avg_tool_ms,
    [sc.ATTR_ALM_RUN_LATENCY_AVG_POLICY_MS]: s.latencies.avg_policy_ms,
    [sc.ATTR_ALM_RUN_LATENCY_TOTAL_MS]: s.latencies.total_run_ms,
    [sc.ATTR_ALM_RUN_TASKS_COMPLETED]: s.tasks.completed,
    [sc.ATTR_ALM_RUN_TASKS_FAILED]: s.tasks.failed,
    [sc.ATTR_ALM_RUN_HANDOFFS]: s.handoffs,
  };
  if (s.llm_calls !== undefined) {
    attributes[sc.ATTR_ALM_RUN_LLM_CALLS] = s.llm_calls;
    attributes[sc.ATTR_ALM_RUN_TOKENS_INPUT] = s.tokens?.input ?? 0;
    attributes[sc.ATTR_ALM_RUN_TOKENS_OUTPUT] = s.tokens?.output ?? 0;
    if (s.cost_usd !== undefined) attributes[sc.ATTR_ALM_RUN_COST_USD] = s.cost_usd;
  }
  const passed = s.budget_exceeded;
  if (passed !== undefined) {
    attributes[sc.ATTR_ALM_RUN_BUDGET_EXCEEDED] = passed.budget;
    attributes[sc.ATTR_ALM_RUN_BUDGET_EXCEEDED_LIMIT] = passed.limit;
    attributes[sc.ATTR_ALM_RUN_BUDGET_EXCEEDED_SPENT] = passed.spent;
    attributes[sc.ATTR_ALM_RUN_BUDGET_EXCEEDED_FLAGGED] = passed.flagged_llm_calls;
    if (passed.model !== undefined) attributes[sc.ATTR_ALM_RUN_BUDGET_EXCEEDED_MODEL] = passed.model;
  }
  return attributes;
}
