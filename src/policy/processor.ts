/**
 * The policy SpanProcessor. alm-otel's own tool spans are decided before they start (so enforcement
 * holds even when the span is not sampled); this processor covers execute_tool spans that other
 * instrumentations create (the Vercel AI SDK, for one): it decides them against the same policy,
 * counts them toward the enclosing run's budget, records the decision on the span, flags a violation
 * when the call should have been denied (a processor cannot block it), and adds them to the ALM
 * event stream. It never throws into the pipeline.
 */
import type { Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '../otel-types';
import { Phase } from '../events/pipeline';
import { recordFromSpan } from '../events/record';
import { now } from '../instrument/clock';
import type { Runtime } from '../instrument/runtime';
import * as sc from '../semconv';

export class PolicySpanProcessor implements SpanProcessor {
  constructor(private readonly rt: Runtime) {}

  onStart(span: Span, _parentContext: Context): void {
    try {
      const attributes = span.attributes;
      // Ours carry their decision from the start; anything else that is not a tool span is not our business.
      if (attributes[sc.ATTR_GEN_AI_OPERATION_NAME] !== sc.GEN_AI_OPERATION_NAME_VALUE_EXECUTE_TOOL) return;
      if (attributes[sc.ATTR_ALM_POLICY_DECISION] !== undefined) return;
      const start = now();
      // onStart runs synchronously in the caller's async context, so the current run is at hand.
      const run = this.rt.storage.getStore()?.run;
      const name = String(attributes[sc.ATTR_GEN_AI_TOOL_NAME] ?? 'unknown');
      const decision = this.rt.policy.decide(this.rt.policy.ruleFor(name), run, false);
      const policyMs = now() - start;
      const verdict = decision.allow ? 'allow' : 'deny';
      span.setAttributes({
        [sc.ATTR_ALM_POLICY_DECISION]: verdict,
        [sc.ATTR_ALM_POLICY_REASON]: decision.reason,
        [sc.ATTR_ALM_POLICY_LATENCY_MS]: policyMs,
      });
      if (run !== undefined) span.setAttribute(sc.ATTR_ALM_RUN_ID, run.runId);
      if (!decision.allow) span.setAttribute(sc.ATTR_ALM_POLICY_VIOLATION, true);
      span.addEvent(sc.EVENT_POLICY_DECISION, {
        [sc.ATTR_ALM_POLICY_DECISION]: verdict,
        [sc.ATTR_ALM_POLICY_REASON]: decision.reason,
      });
      // Its events wait for the span's end: an alm.tool() running inside it may claim the call (see
      // instrument/tool.ts), and then the call is reported once, as alm's own.
      this.rt.foreignCalls.set(span, { run, decision, policyMs, claimed: false });
    } catch (error) {
      this.rt.report(error);
    }
  }

  onEnd(span: ReadableSpan): void {
    const call = this.rt.foreignCalls.get(span);
    if (call === undefined) return;
    this.rt.foreignCalls.delete(span);
    if (call.claimed) return;
    try {
      const record = recordFromSpan(span);
      if (record?.kind !== 'tool') return;
      call.run?.recordToolCall(call.decision.allow, record.status, record.toolMs, call.policyMs);
      this.rt.events.enqueue(record, Phase.Both);
    } catch (error) {
      this.rt.report(error);
    }
  }

  /** Delivers the ALM events queued so far. */
  forceFlush(): Promise<void> {
    return this.rt.events.flush();
  }

  /** Stops nothing but delivers what is queued: the ALM instance lives on, and alm.shutdown() ends it. */
  shutdown(): Promise<void> {
    return this.rt.events.flush();
  }
}
