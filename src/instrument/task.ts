/** `alm.task`: a unit of work inside a run, as a span and task.start/task.end events. */
import { randomUUID } from 'node:crypto';
import { toStructuredError } from '../events/errors';
import { Phase } from '../events/pipeline';
import * as sc from '../semconv';
import { now } from './clock';
import { Operation } from './operation';
import { runInScope } from './run';
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

export function startTask<T>(rt: Runtime, options: TaskOptions, fn: (task: TaskHandle) => T): T {
  const startTime = now();
  const scope = rt.storage.getStore();
  const run = scope?.run;
  const taskId = randomUUID();
  const attributes: Record<string, string | number | boolean> = { [sc.ATTR_ALM_TASK_ID]: taskId };
  if (run !== undefined) attributes[sc.ATTR_ALM_RUN_ID] = run.runId;
  if (options.type) attributes[sc.ATTR_ALM_TASK_TYPE] = options.type;
  if (options.description) attributes[sc.ATTR_ALM_TASK_DESCRIPTION] = options.description;

  const op = new Operation(
    rt,
    options.type ? `task ${options.type}` : 'task',
    attributes,
    rt.parentContext(scope),
    startTime,
  );
  rt.events.enqueue(op.record, Phase.Start);
  const handle: TaskHandle = { taskId, runId: run?.runId ?? null };

  return runInScope(
    rt,
    { run, otelContext: op.context },
    () => fn(handle),
    (failed, outcome) => {
      try {
        op.set(sc.ATTR_ALM_TASK_SUCCESS, !failed);
        if (failed) op.fail(toStructuredError(outcome, 'agent'), outcome);
        op.end(now());
        if (run !== undefined) {
          if (failed) run.tasksFailed++;
          else run.tasksCompleted++;
        }
        rt.events.enqueue(op.record, Phase.End);
      } catch (error) {
        rt.report(error);
      }
    },
  );
}
