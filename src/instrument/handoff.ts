/** `alm.handoff`: a hand-over to another agent, as a zero-length span and a handoff event. */
import type { Context } from '@opentelemetry/api';
import { captureValue, isGiven, safeJson, truncateString } from '../events/capture';
import { Phase } from '../events/pipeline';
import type { HandoffRecord } from '../events/record';
import * as sc from '../semconv';
import { now } from './clock';
import { Operation, emit } from './operation';
import type { Runtime } from './runtime';

export interface HandoffOptions {
  toAgentId: string;
  reason?: string;
  /**
   * Context passed along (usually an object; any value is accepted); recorded redacted and truncated
   * like tool arguments, and left out when empty, as the reference does.
   */
  context?: unknown;
}

class HandoffOperation extends Operation implements HandoffRecord {
  readonly kind = 'handoff';
  readonly fromAgentId: string;
  readonly toAgentId: string;
  readonly reason: string | undefined;
  readonly context: unknown;

  constructor(rt: Runtime, runId: string | null, options: HandoffOptions, parent: Context, time: number) {
    const toAgentId = truncateString(options.toAgentId);
    const reason = options.reason ? truncateString(options.reason) : undefined;
    const context = isGiven(options.context) ? captureValue(options.context, rt.content.sensitive) : undefined;
    super(
      rt,
      `handoff ${toAgentId}`,
      {
        [sc.ATTR_GEN_AI_AGENT_ID]: rt.envelope.agentId,
        [sc.ATTR_ALM_HANDOFF_TO_AGENT_ID]: toAgentId,
        [sc.ATTR_ALM_RUN_ID]: runId ?? undefined,
        [sc.ATTR_ALM_HANDOFF_REASON]: reason,
        [sc.ATTR_ALM_HANDOFF_CONTEXT]: context === undefined ? undefined : safeJson(context),
      },
      parent,
      time,
      runId,
    );
    this.fromAgentId = rt.envelope.agentId;
    this.toAgentId = toAgentId;
    this.reason = reason;
    this.context = context;
    this.endSpan(time);
  }
}

export function recordHandoff(rt: Runtime, options: HandoffOptions): void {
  const scope = rt.storage.getStore();
  const run = scope?.run;
  const op = new HandoffOperation(rt, run?.runId ?? null, options, rt.parentContext(scope), now());
  if (run !== undefined) run.handoffs++;
  emit(rt, run, op, Phase.Start);
}
