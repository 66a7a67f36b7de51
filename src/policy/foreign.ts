/**
 * Tool calls of other instrumentations ("foreign" spans), as the policy SpanProcessor tracks them.
 *
 * Every span another tracer starts, except those that can never be agent calls (policy/unrelated.ts),
 * gets a small state here, because any of them may turn out to be a tool span: some instrumentations set their attributes after start (OpenLLMetry right away,
 * OpenInference's LangChain tracer only at the end). A span is decided as soon as its convention and
 * its tool name are both known, and never before: at start, when a child span starts, when an
 * alm.tool() runs inside it, or at the latest when it ends. It is never decided under a placeholder.
 *
 * One tool call may show up as several spans (a framework span, and an instrumentation span inside it
 * for the same call; or two integrations' spans side by side with the same call id): the first decided
 * (the outermost) reports it, the others count nothing and say `alm.tool.nested`. When an alm.tool() runs inside a foreign tool span, that is the
 * same call too: alm's tool reports it (and can block it), under the framework's call id.
 */
import type { Span } from '@opentelemetry/api';
import { now } from '../instrument/clock';
import type { RunState } from '../instrument/run-state';
import type { Runtime } from '../instrument/runtime';
import * as sc from '../semconv';
import { chargeToolCalls, type BudgetDetails } from './budgets';
import { toolCallIdOf, toolConvention, toolNameOf, type ToolConvention } from './conventions';
import { recogniseModelSpan } from './model-spans';
import type { PolicyDecision } from './rules';

/** An alm.llm() call: model spans of other instrumentations inside it report their usage to it. */
export interface ModelCallOwner {
  /** Usage a nested span reported, for a call whose result carries none. */
  adoptUsage(inputTokens: number, outputTokens: number): void;
}

/** A foreign tool call as decided. Shared by the spans of the same call. */
export interface ForeignCall {
  readonly toolName: string;
  readonly toolCallId: string | undefined;
  readonly decision: PolicyDecision;
  readonly policyMs: number;
}

/**
 * alm tool calls made while a foreign span that may still turn into a tool span is open in a run. Some
 * instrumentations never make their tool span active, and mark it as one only after start
 * (OpenInference's LangChain tracer starts it from a callback and sets its kind right after), so an alm
 * tool the framework runs cannot see it; when that span's name arrives, an alm call of the same tool in
 * the same run is the same call: the one with the span's call id, when the span has one by then; else
 * the first unpaired one begun after the span's enclosing foreign span started (its own start, without
 * one). Not after the span's own start: LangChain runs its callbacks in the background, so with tools
 * run in parallel (LangGraph's ToolNode) a tracer may start a tool's span after the tool body began.
 */
export class LateToolSpans {
  /** Open foreign spans, started in a run, not decided yet. */
  open = 0;
  /** Counts foreign span starts: orders alm calls against them without comparing clocks. */
  seq = 0;
  private readonly calls: ({ call: AlmToolCall; seq: number; paired: boolean } | undefined)[] = [];
  private next = 0;

  /** Hot path, only while `open > 0`, for calls in a run: a slot in a fixed ring. */
  note(call: AlmToolCall): void {
    this.calls[this.next] = { call, seq: this.seq, paired: false };
    this.next = (this.next + 1) % MAX_NOTED_CALLS;
  }

  /**
   * The unpaired alm call of `name` in `run` with the call id `callId`, when given and noted; else the
   * first one begun after the span numbered `seq` started.
   */
  pair(name: string, callId: string | undefined, run: RunState | undefined, seq: number): AlmToolCall | undefined {
    let found: { call: AlmToolCall; seq: number; paired: boolean } | undefined;
    for (const entry of this.calls) {
      if (entry === undefined || entry.paired) continue;
      if (entry.call.toolName !== name || entry.call.run !== run) continue;
      if (callId !== undefined && entry.call.toolCallId === callId) {
        found = entry;
        break;
      }
      if (entry.seq < seq) continue;
      if (found === undefined || entry.seq < found.seq) found = entry;
    }
    if (found === undefined) return undefined;
    found.paired = true;
    return found.call;
  }

  /** Open decided foreign tool calls by call id, to tell another span of the same call. */
  readonly byCallId = new Map<string, ForeignSpan>();

  remember(s: ForeignSpan, key: string): void {
    s.callKey = key;
    this.byCallId.set(key, s);
    // Spans that never end must not grow it without bound: the oldest go first.
    if (this.byCallId.size > MAX_OPEN_CALLS) this.byCallId.delete(this.byCallId.keys().next().value!);
  }

  /** The span ended: its call id no longer marks an open call. */
  forget(s: ForeignSpan): void {
    if (s.callKey !== undefined && this.byCallId.get(s.callKey) === s) this.byCallId.delete(s.callKey);
  }

  /** The span can no longer be paired: decided, or ended. */
  settle(s: ForeignSpan): void {
    if (s.lateSeq === undefined || s.settled) return;
    s.settled = true;
    this.open--;
  }
}

type SetAttribute = (key: string, value: unknown) => unknown;
type SetAttributes = (attributes: unknown) => unknown;
let checking = false;

/**
 * Decide a span the moment its attributes make it a named tool span, for SDKs that call no onEnding
 * (sdk-trace-base before 2.3, as OpenLLMetry's NodeSDK brings), where onEnd would be too late to flag the
 * span: its setAttribute and setAttributes are observed, on this span object only, until it is decided
 * or ends (then they just pass through). Not used where onEnding is called: patching span objects costs
 * every span in the SDK some speed.
 */
export function watch(rt: Runtime, s: ForeignSpan): void {
  const span = s.span as unknown as { setAttribute?: unknown; setAttributes?: unknown };
  const setAttribute = span.setAttribute;
  const setAttributes = span.setAttributes;
  if (typeof setAttribute !== 'function' || typeof setAttributes !== 'function') return;
  const check = () => {
    if (s.modelPending) recogniseModelSpan(rt, s);
    if (checking || s.settled) return;
    checking = true;
    try {
      decideForeign(rt, s);
    } catch (error) {
      rt.report(error);
    } finally {
      checking = false;
    }
  };
  span.setAttribute = function (this: unknown, key: string, value: unknown) {
    const result = (setAttribute as SetAttribute).call(this, key, value);
    check();
    return result;
  };
  span.setAttributes = function (this: unknown, attributes: unknown) {
    const result = (setAttributes as SetAttributes).call(this, attributes);
    check();
    return result;
  };
}

/** What the late pairing needs of an alm tool call (instrument/tool.ts's ToolCall). */
export interface AlmToolCall {
  readonly toolName: string;
  readonly toolCallId: string;
  readonly run: RunState | undefined;
  readonly decision: 'allow' | 'deny';
  readonly reason: string;
  readonly status: string;
}

const MAX_NOTED_CALLS = 256;
const MAX_OPEN_CALLS = 10_000;

/** Most enclosing spans looked through, for a same-call span or for the tool span around an alm tool. */
const MAX_ANCESTORS = 8;

export class ForeignSpan {
  /** The tool convention, once recognised. */
  convention: ToolConvention | undefined = undefined;
  /** Set once decided, or when joined to the enclosing span's call. */
  call: ForeignCall | undefined = undefined;
  /** The enclosing span of the same call, which reports it. */
  nestedIn: ForeignSpan | undefined = undefined;
  /** An alm.tool() inside reports this call. */
  claimed = false;
  ended = false;
  /** Set when the span started in a run undecided: its number in LateToolSpans. */
  lateSeq: number | undefined = undefined;
  /** The number of foreign span starts when this one started (LateToolSpans.seq). */
  startSeq = 0;
  /** Model calls already counted for this model span, one per step span inside it (Mastra). */
  modelSteps = 0;
  /** An alm model call ran inside: alm counted that model work, so this span counts none. */
  almModelCalls = false;
  settled = false;
  /** The alm protocol call (alm.mcpClient) active where this span started: of the same tool, the same call. */
  within: AlmToolCall | undefined = undefined;
  /**
   * The trace the span was started from, when its instrumentation parented it into another trace
   * (OpenLLMetry's MCP spans, under the session span made at connect()): its events carry this one.
   */
  callerTraceId: string | undefined = undefined;
  /** Its key in LateToolSpans.byCallId, while it is the open span of its call. */
  callKey: string | undefined = undefined;
  /**
   * Set when this span is inside a model call already counted by an enclosing span: another model
   * span, or an alm.llm() call (which then takes the usage this span reports, if it has none).
   */
  withinModelCall: ModelCallOwner | ForeignSpan | undefined = undefined;
  /** Started in a run, outside any model call, and not known yet whether it is a model span (model-spans.ts). */
  modelPending = false;
  /** Meanwhile: the model budget its run had reached when it started. */
  overAtStart: BudgetDetails | undefined = undefined;

  constructor(
    /** Writable until it ends. */
    readonly span: Span,
    readonly run: RunState | undefined,
    /** The nearest enclosing foreign span, if any. */
    readonly parent: ForeignSpan | undefined,
  ) {}

  attributes(): Record<string, unknown> {
    return (this.span as unknown as { attributes?: Record<string, unknown> }).attributes ?? {};
  }

  /**
   * This span's tool convention, if it is a tool span (by now). Looked up again until the call is
   * decided: attributes may arrive one by one, and a more specific row may match once all have (OpenLLMetry's
   * LangChain spans show gen_ai's kind first).
   */
  recognise(): ToolConvention | undefined {
    if (this.call === undefined) this.convention = toolConvention(this.attributes() as never) ?? this.convention;
    return this.convention;
  }
}

function sameCall(name: string, callId: string | undefined, other: ForeignSpan): boolean {
  const c = other.recognise();
  if (c === undefined) return false;
  const a = other.attributes() as never;
  const otherId = other.call?.toolCallId ?? toolCallIdOf(c, a);
  if (callId !== undefined && otherId !== undefined) return callId === otherId;
  return (other.call?.toolName ?? toolNameOf(c, a)) === name;
}

function setAttributes(s: ForeignSpan, attributes: Record<string, string | number | boolean | undefined>): void {
  if (!s.ended) s.span.setAttributes(attributes);
}

/** `s` is a span of the call `other` (or the span `other` is part of) reports: it counts nothing. */
function joinCall(rt: Runtime, s: ForeignSpan, other: ForeignSpan): ForeignCall | undefined {
  const owner = other.nestedIn ?? other;
  s.nestedIn = owner;
  s.call = decideForeign(rt, owner);
  rt.lateToolSpans.settle(s);
  const decided = s.call?.decision;
  setAttributes(s, {
    [sc.ATTR_ALM_TOOL_NESTED]: true,
    [sc.ATTR_ALM_POLICY_DECISION]: decided === undefined ? undefined : decided.allow ? 'allow' : 'deny',
    [sc.ATTR_ALM_RUN_ID]: s.run?.runId,
  });
  return s.call;
}

/**
 * Decide the span's call if its name is known by now and it is not decided yet; returns its call
 * (undefined while the name is unknown, or when an alm tool inside reports the call instead).
 * Takes the run's budget slot (the call runs: a processor cannot block it) and writes the decision on
 * the span while it is still writable.
 */
export function decideForeign(rt: Runtime, s: ForeignSpan): ForeignCall | undefined {
  if (s.call !== undefined || s.claimed) return s.call;
  const c = s.recognise();
  if (c === undefined) return undefined;
  const a = s.attributes() as never;
  const name = toolNameOf(c, a);
  if (name === undefined) return undefined;
  const callId = toolCallIdOf(c, a);

  // A span inside an open tool span of the same call is part of that call: it counts once.
  let ancestor = s.parent;
  for (let depth = 0; ancestor !== undefined && depth < MAX_ANCESTORS; depth++, ancestor = ancestor.parent) {
    if (ancestor.ended || ancestor.run !== s.run || !sameCall(name, callId, ancestor)) continue;
    return joinCall(rt, s, ancestor);
  }
  // So is an open span of the same call id beside it, in the same run (two integrations tracing the
  // same call, possibly in two traces). A call id seen again once that span ended is a new call.
  const twin = callId === undefined ? undefined : rt.lateToolSpans.byCallId.get(callId);
  if (twin !== undefined && twin !== s && !twin.ended && twin.run === s.run) return joinCall(rt, s, twin);

  // Started inside an alm protocol call of that tool (its request, traced by the protocol's own
  // instrumentation); or named late, and an alm tool of that name ran meanwhile in the same run: the
  // framework ran it.
  const almCall =
    s.within !== undefined && s.within.toolName === name
      ? s.within
      : s.lateSeq === undefined
        ? undefined
        : rt.lateToolSpans.pair(name, callId, s.run, s.parent?.startSeq ?? s.lateSeq);
  if (almCall !== undefined) {
    s.claimed = true;
    rt.lateToolSpans.settle(s);
    const blocked = almCall.status === 'denied';
    setAttributes(s, {
      [sc.ATTR_ALM_TOOL_WRAPPED]: true,
      [sc.ATTR_ALM_POLICY_DECISION]: almCall.decision,
      [sc.ATTR_ALM_POLICY_REASON]: almCall.reason,
      [sc.ATTR_ALM_RUN_ID]: s.run?.runId,
      [sc.ATTR_ALM_POLICY_VIOLATION]: almCall.decision === 'deny' && !blocked,
      [sc.ATTR_ALM_TOOL_STATUS]: blocked ? 'denied' : undefined,
    });
    return undefined;
  }

  const start = now();
  const decision = rt.policy.decide(rt.policy.ruleFor(name), s.run, false, s.run?.takeApproved(callId) === true);
  const policyMs = now() - start;
  s.call = { toolName: name, toolCallId: callId, decision, policyMs };
  rt.lateToolSpans.settle(s);
  if (callId !== undefined) rt.lateToolSpans.remember(s, callId);
  if (!s.ended) {
    const verdict = decision.allow ? 'allow' : 'deny';
    s.span.setAttributes({
      [sc.ATTR_ALM_POLICY_DECISION]: verdict,
      [sc.ATTR_ALM_POLICY_REASON]: decision.reason,
      [sc.ATTR_ALM_POLICY_LATENCY_MS]: policyMs,
      [sc.ATTR_ALM_RUN_ID]: s.run?.runId,
      // A processor cannot block a call: a deny that runs is a violation.
      [sc.ATTR_ALM_POLICY_VIOLATION]: decision.allow ? undefined : true,
    });
    if (!decision.allow) {
      s.span.addEvent(sc.EVENT_POLICY_DECISION, {
        [sc.ATTR_ALM_POLICY_DECISION]: verdict,
        [sc.ATTR_ALM_POLICY_REASON]: decision.reason,
      });
    }
  }
  return s.call;
}

/** What an alm.tool() call inside a foreign tool span takes from it. */
export interface Claim {
  readonly decision: PolicyDecision;
  /** The framework's id for the call, when it has one. */
  readonly toolCallId: string | undefined;
  readonly outer: ForeignSpan;
}

/**
 * The open foreign tool span an alm tool named `name` is running in (directly, or through non-tool
 * spans), not yet claimed, in the same run, and for the same tool (or one not named yet); undefined
 * otherwise. A tool span of another tool around it is a tool calling a tool: two calls.
 */
function enclosingToolSpan(active: ForeignSpan, name: string, run: RunState | undefined): ForeignSpan | undefined {
  let s: ForeignSpan | undefined = active;
  for (let depth = 0; s !== undefined && depth < MAX_ANCESTORS; depth++, s = s.parent) {
    if (s.ended) return undefined;
    const c = s.recognise();
    if (c === undefined) continue;
    const owner = s.nestedIn ?? s;
    const outerName = owner.call?.toolName ?? toolNameOf(c, s.attributes() as never);
    if (outerName !== undefined && outerName !== name) return undefined;
    return owner.claimed || owner.ended || owner.run !== run ? undefined : owner;
  }
  return undefined;
}

/**
 * An alm tool called inside another instrumentation's tool span of the same tool: one logical call.
 * Its decision is the foreign span's (already taken against the budget, or taken now if the name just
 * became known), unless alm's own rule for its tool name denies; and now it can block. `rule` is that
 * own rule.
 */
export function claimForeign(
  rt: Runtime,
  name: string,
  rule: PolicyDecision,
  run: RunState | undefined,
  active: ForeignSpan,
): Claim | undefined {
  try {
    return claim(rt, name, rule, run, active);
  } catch (error) {
    // Instrumentation failed: the alm tool decides on its own, as if no framework span were there.
    rt.report(error);
    return undefined;
  }
}

function claim(
  rt: Runtime,
  name: string,
  rule: PolicyDecision,
  run: RunState | undefined,
  active: ForeignSpan,
): Claim | undefined {
  const outer = enclosingToolSpan(active, name, run);
  if (outer === undefined) return undefined;
  const call = decideForeign(rt, outer);
  outer.claimed = true;
  rt.lateToolSpans.settle(outer);
  let decision: PolicyDecision;
  if (call === undefined) {
    // Its name is not known yet: alm's tool decides the call, as its own.
    decision = rt.policy.decide(rule, run, rt.enforcing);
  } else {
    decision = rule.allow ? call.decision : rule;
    if (!decision.allow && rt.enforcing) chargeToolCalls(run, -1); // it will not run after all (nor count in parents)
  }
  const c = outer.convention;
  const toolCallId = call?.toolCallId ?? (c === undefined ? undefined : toolCallIdOf(c, outer.attributes() as never));
  const blocked = !decision.allow && rt.enforcing;
  setAttributes(outer, {
    [sc.ATTR_ALM_TOOL_WRAPPED]: true,
    [sc.ATTR_ALM_POLICY_DECISION]: decision.allow ? 'allow' : 'deny',
    [sc.ATTR_ALM_POLICY_REASON]: decision.reason,
    [sc.ATTR_ALM_RUN_ID]: run?.runId,
    // alm blocked it: not a violation. Overrides a flag set when the span was decided at start.
    [sc.ATTR_ALM_POLICY_VIOLATION]: !decision.allow && !blocked,
    [sc.ATTR_ALM_TOOL_STATUS]: blocked ? 'denied' : undefined,
  });
  return { decision, toolCallId, outer };
}
