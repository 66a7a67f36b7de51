/** `alm.handoff`: a hand-over to another agent, as a zero-length span and a handoff event. */
import type { Context } from '@opentelemetry/api';
import { captureValue, safeJson } from '../events/capture';
import { Phase } from '../events/pipeline';
import type { HandoffRecord } from '../events/record';
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

class HandoffOperation extends Operation implements HandoffRecord {
  readonly kind = 'handoff';
  readonly fromAgentId: string;
  readonly toAgentId: string;
  readonly reason: string | undefined;
  readonly context: unknown;

  constructor(rt: Runtime, runId: string | null, options: HandoffOptions, parent: Context, time: number) {
    const context = options.context === undefined ? undefined : captureValue(options.context);
    super(
      rt,
      `handoff ${options.toAgentId}`,
      {
        [sc.ATTR_GEN_AI_AGENT_ID]: rt.envelope.agentId,
        [sc.ATTR_ALM_HANDOFF_TO_AGENT_ID]: options.toAgentId,
        [sc.ATTR_ALM_RUN_ID]: runId ?? undefined,
        [sc.ATTR_ALM_HANDOFF_REASON]: options.reason || undefined,
        [sc.ATTR_ALM_HANDOFF_CONTEXT]: context === undefined ? undefined : safeJson(context),
      },
      parent,
      time,
      runId,
    );
    this.fromAgentId = rt.envelope.agentId;
    this.toAgentId = options.toAgentId;
    this.reason = options.reason || undefined;
    this.context = context;
    this.endSpan(time);
  }
}

export function recordHandoff(rt: Runtime, options: HandoffOptions): void {
  const scope = rt.storage.getStore();
  const run = scope?.run;
  const op = new HandoffOperation(rt, run?.runId ?? null, options, rt.parentContext(scope), now());
  if (run !== undefined) run.handoffs++;
  rt.events.enqueue(op, Phase.Start);
}
