/** Per-run state: the tool-call budget and the counters behind the run.end summary. */
import * as sc from '../semconv';

export type ToolStatus = 'success' | 'denied' | 'error';

export class RunState {
  /** Calls that ran (or will run) in this run: the budget's count. */
  toolCallsUsed = 0;
  private total = 0;
  private allowed = 0;
  private denied = 0;
  private errors = 0;
  private toolMsSum = 0;
  private toolMsCount = 0;
  private policyMsSum = 0;
  private policyMsCount = 0;
  tasksCompleted = 0;
  tasksFailed = 0;
  handoffs = 0;

  constructor(readonly runId: string) {}

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

  summaryAttributes(totalRunMs: number): Record<string, number> {
    return {
      [sc.ATTR_ALM_RUN_TOOL_CALLS_TOTAL]: this.total,
      [sc.ATTR_ALM_RUN_TOOL_CALLS_ALLOWED]: this.allowed,
      [sc.ATTR_ALM_RUN_TOOL_CALLS_DENIED]: this.denied,
      [sc.ATTR_ALM_RUN_TOOL_CALLS_ERROR]: this.errors,
      // alm-otel does not retry tool calls (as the reference, whose retry loop is disabled).
      [sc.ATTR_ALM_RUN_TOOL_CALLS_RETRIED]: 0,
      [sc.ATTR_ALM_RUN_LATENCY_AVG_TOOL_MS]: this.toolMsCount > 0 ? this.toolMsSum / this.toolMsCount : 0,
      [sc.ATTR_ALM_RUN_LATENCY_AVG_POLICY_MS]: this.policyMsCount > 0 ? this.policyMsSum / this.policyMsCount : 0,
      [sc.ATTR_ALM_RUN_LATENCY_TOTAL_MS]: totalRunMs,
      [sc.ATTR_ALM_RUN_TASKS_COMPLETED]: this.tasksCompleted,
      [sc.ATTR_ALM_RUN_TASKS_FAILED]: this.tasksFailed,
      [sc.ATTR_ALM_RUN_HANDOFFS]: this.handoffs,
    };
  }
}
