/**
 * The receiving side of a run that crosses processes (see propagation.ts): calls made under a context
 * whose baggage names a run (`alm.run_id`), with no local run open, record under that run's id.
 *
 * Each remote run gets one RunState here, kept while it is among the most recently seen, so that this
 * process's own per-run budgets hold per caller run. It has no run.start / run.end here: those are the
 * caller's. Its counts are this process's only (a shared budget store counts across processes).
 */
import type { Context } from '@opentelemetry/api';
import { remoteRunId, remoteRunLabels } from '../propagation';
import { RunState } from './run-state';
import type { Runtime } from './runtime';
import { acceptedLabels } from './labels';

/** Remote runs remembered at once; the least recently seen goes first. */
const MAX_REMOTE_RUNS = 1000;

export class RemoteRuns {
  private readonly runs = new Map<string, RunState>();

  constructor(private readonly priced: boolean) {}

  get(runId: string): RunState {
    let state = this.runs.get(runId);
    if (state !== undefined) {
      // Most recently seen last.
      this.runs.delete(runId);
    } else {
      state = new RunState(runId, undefined, this.priced);
      if (this.runs.size >= MAX_REMOTE_RUNS) this.runs.delete(this.runs.keys().next().value!);
    }
    this.runs.set(runId, state);
    return state;
  }
}

/** The remote run `ctx` belongs to, when it names one (only asked when no local run is open). */
export function adoptRemoteRun(rt: Runtime, ctx: Context): RunState | undefined {
  const runId = remoteRunId(ctx);
  if (runId === undefined) return undefined;
  const state = rt.remoteRuns.get(runId);
  // The caller's labels travel with its run: they choose the scoped budgets here too.
  if (state.labels === undefined) {
    const labels = acceptedLabels(remoteRunLabels(ctx));
    if (labels !== undefined) state.labels = labels;
  }
  return state;
}
