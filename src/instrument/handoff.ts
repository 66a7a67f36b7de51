/** `alm.handoff`: a hand-over to another agent, as a zero-length span and a handoff event. */
import { captureValue } from '../events/capture';
import { Phase } from '../events/pipeline';
import * as sc from '../semconv';
import { now } from './clock';
import { Operation } from './operation';
import type { Runtime } from './runtime';

export interface HandoffOptions {
  toAgentId: string;
  reason?: string;
  /** Context passed along; recorded redacted and truncated like tool arguments. */
  context?: Record<string, unknown>;
}

export function recordHandoff(rt: Runtime, options: HandoffOptions): void {
  const time = now();
  const scope = rt.storage.getStore();
  const run = scope?.run;
  const attributes: Record<string, string | number | boolean> = {
    [sc.ATTR_GEN_AI_AGENT_ID]: rt.envelope.agentId,
    [sc.ATTR_ALM_HANDOFF_TO_AGENT_ID]: options.toAgentId,
  };
  if (run !== undefined) attributes[sc.ATTR_ALM_RUN_ID] = run.runId;
  if (options.reason) attributes[sc.ATTR_ALM_HANDOFF_REASON] = options.reason;

  const op = new Operation(rt, `handoff ${options.toAgentId}`, attributes, rt.parentContext(scope), time);
  if (options.context !== undefined) op.setStructured(sc.ATTR_ALM_HANDOFF_CONTEXT, captureValue(options.context));
  op.end(time);
  if (run !== undefined) run.handoffs++;
  rt.events.enqueue(op.record, Phase.Start);
}
