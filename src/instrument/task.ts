/** `alm.task`: a unit of work inside a run, as a span and task.start/task.end events. */
import type { Context } from '@opentelemetry/api';
import { truncateString } from '../events/capture';
import { toStructuredError, type StructuredError } from '../events/errors';
import { Phase } from '../events/pipeline';
import type { TaskRecord } from '../events/record';
import * as sc from '../semconv';
import { newId } from '../ids';
import { now } from './clock';
import { Operation, emit } from './operation';
import { runInScope } from './run';
import type { RunState } from './run-state';
import type { Runtime } from './runtime';

export interface TaskOptions {
  /** A category for the task, e.g. 'research'; names the span `task {type}`. */
  type?: string;
  description?: string;
}

/** Passed to the task's function. */
export interface TaskHandle {
  readonly taskId: string;
  /** The enclosing run's id, or null outside a run. */
  readonly runId: string | null;
}

class TaskOperation extends Operation implements TaskRecord {
  readonly kind = 'task';
  readonly taskType: string | undefined;
  readonly description: string | undefined;
  success = true;
  error: StructuredError | undefined = undefined;

  constructor(
    rt: Runtime,
    readonly taskId: string,
    readonly run: RunState | undefined,
    taskType: string | undefined,
    description: string | undefined,
    parent: Context,
    startTime: number,
  ) {
    super(
      rt,
      taskType ? `task ${taskType}` : 'task',
      {
        [sc.ATTR_ALM_TASK_ID]: taskId,
        [sc.ATTR_ALM_RUN_ID]: run?.runId,
        [sc.ATTR_ALM_TASK_TYPE]: taskType,
        [sc.ATTR_ALM_TASK_DESCRIPTION]: description,
      },
      parent,
      startTime,
      run?.runId ?? null,
    );
    this.taskType = taskType;
    this.description = description;
  }

  finish(rt: Runtime, failed: boolean, outcome: unknown): void {
    try {
      this.success = !failed;
      this.setSpanAttribute(sc.ATTR_ALM_TASK_SUCCESS, !failed);
      if (failed) {
        this.error = toStructuredError(outcome, 'agent', rt.content.sensitive);
        this.markSpanFailed(this.error, outcome);
      }
      this.endSpan(now());
      if (this.run !== undefined) {
        if (failed) this.run.tasksFailed++;
        else this.run.tasksCompleted++;
      }
      emit(rt, this.run, this, Phase.End);
    } catch (error) {
      rt.report(error);
    }
  }
}

export function startTask<T>(rt: Runtime, options: TaskOptions, fn: (task: TaskHandle) => T): T {
  const scope = rt.storage.getStore();
  const run = scope?.run;
  const op = new TaskOperation(
    rt,
    newId(),
    run,
    options.type ? truncateString(options.type) : undefined,
    options.description ? truncateString(options.description) : undefined,
    rt.parentContext(scope),
    now(),
  );
  emit(rt, run, op, Phase.Start);
  const handle: TaskHandle = { taskId: op.taskId, runId: op.runId };
  return runInScope(
    rt,
    { run, otelContext: op.otelContext },
    () => fn(handle),
    (failed, outcome) => op.finish(rt, failed, outcome),
  );
}
