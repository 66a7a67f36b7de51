/**
 * Tool policy decisions, in the reference SDK's order and words: the per-run budget first, then the
 * deny list, then the allow list, then the default.
 */
import type { PolicyConfig } from '../config/schema';
import { truncateString } from '../events/capture';
import {
  budgetReason,
  chargeToolCalls,
  exceededLlmBudget,
  exceededToolBudget,
  type BudgetDetails,
  type BudgetLimits,
  type BudgetUsage,
} from './budgets';
import { compilePatterns } from './glob';

export interface PolicyDecision {
  readonly allow: boolean;
  readonly reason: string;
  /** For a budget denial: the numbers behind it. */
  readonly details?: BudgetDetails;
}

const ALLOWED: PolicyDecision = Object.freeze({ allow: true, reason: 'allowed' });

export class ToolPolicy {
  readonly mode: PolicyConfig['mode'];
  private readonly maxCalls: number | undefined;
  private readonly isDenied: (name: string) => boolean;
  private readonly isAllowed: (name: string) => boolean;
  private readonly hasAllowList: boolean;
  private readonly defaultAllow: boolean;
  /** The token and cost budgets, when set: a run that reached one is refused tool calls too. */
  private readonly spendLimits: BudgetLimits | undefined;

  constructor(config: PolicyConfig) {
    this.mode = config.mode;
    this.maxCalls = config.maxToolCallsPerRun;
    this.isDenied = compilePatterns(config.deniedTools);
    this.isAllowed = compilePatterns(config.allowedTools);
    this.hasAllowList = config.allowedTools.length > 0;
    this.defaultAllow = config.defaultAllow;
    const { maxTokensPerRun, maxCostPerRun } = config;
    if (maxTokensPerRun !== undefined || maxCostPerRun !== undefined)
      this.spendLimits = { maxTokensPerRun, maxCostPerRun };
  }

  /**
   * The part of a decision that depends on the tool's name alone; computed once per wrapped tool. The
   * whole name is matched; the reason quotes it bounded, like every string events carry.
   */
  ruleFor(toolName: string): PolicyDecision {
    if (this.isDenied(toolName)) {
      return { allow: false, reason: `Tool '${truncateString(toolName)}' is in denied_tools list` };
    }
    if (this.hasAllowList) {
      return this.isAllowed(toolName)
        ? ALLOWED
        : { allow: false, reason: `Tool '${truncateString(toolName)}' is not in allowed_tools list` };
    }
    return this.defaultAllow
      ? ALLOWED
      : { allow: false, reason: 'default_allow is False and no allowed_tools specified' };
  }

  /**
   * The decision for one call. When the call will run (allowed, or not blocked because the policy only
   * monitors or cannot block), its run's allowance is taken right here, synchronously, so concurrent
   * calls can never overrun the budget.
   */
  decide(
    rule: PolicyDecision,
    run: BudgetUsage | undefined,
    blocking: boolean,
    /** Allowed ahead, its slot taken then (AI SDK 7's toolApproval, instrument/tool.ts's refuseAhead). */
    approved = false,
  ): PolicyDecision {
    if (run === undefined) return rule;
    if (approved) {
      // The rule alone: the budget was checked when the slot was taken, which goes back if it is blocked.
      if (!rule.allow && blocking) chargeToolCalls(run, -1);
      return rule;
    }
    let decision = rule;
    // This run's budget, then every enclosing run's: calls in a child run count toward its parents.
    const details = exceededToolBudget(run, this.maxCalls);
    if (details !== undefined) {
      // Calls that run anyway (monitor mode, foreign spans) keep counting; the reason reads as the reference's.
      decision = { allow: false, reason: `Budget exceeded: ${details.limit}/${details.limit} tool calls`, details };
    } else if (this.spendLimits !== undefined) {
      // A run that has spent its token or cost allowance stops acting too.
      const spent = exceededLlmBudget(run, this.spendLimits, false);
      if (spent !== undefined) decision = { allow: false, reason: budgetReason(spent), details: spent };
    }
    if (decision.allow || !blocking) chargeToolCalls(run, 1);
    return decision;
  }
}
