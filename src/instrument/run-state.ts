/** Per-run state: the tool-call budget and the counters behind the run.end summary. */
import type { ToolStatus } from '../events/record';
import type { RunSummary } from '../events/schema';
import * as sc from '../semconv';

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
  /** Attempts that were retries (attempt > 1) of a tool with `retry`. */
  retried = 0;
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

  summary(totalRunMs: number): RunSummary {
    return {
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
  }
}

/** The summary as flat span attributes (recordFromSpan reads them back). */
export function summaryAttributes(s: RunSummary): Record<string, number> {
  return {
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
}
