/**
 * Other instrumentations' model-call spans (policy/model-conventions.ts) counted toward the enclosing
 * run's model budgets by the policy SpanProcessor: the call, its tokens and its cost, when the span ends,
 * so the next alm.llm() or tool call after a limit is refused. A processor cannot stop a call that has
 * started; one that starts when a budget is already reached is flagged as a violation on its span, as
 * soon as its attributes say it is a model span.
 */
import { context, trace, type Span } from '@opentelemetry/api';
import type { Runtime } from '../instrument/runtime';
import * as sc from '../semconv';
import { chargeLlm } from './budgets';
import type { ForeignSpan, ModelCallOwner } from './foreign';
import { modelConvention, modelSpanUsage } from './model-conventions';

const NO_TOKENS = { inputTokens: 0, outputTokens: 0 };

/**
 * At start: note whether the span is inside a model call counted elsewhere, and flag a budget already
 * spent. Some instrumentations set a span's attributes only after starting it (OpenInference's tracer
 * starts every span bare and sets its kind right after): a span that is not a model span yet but may
 * become one keeps the budget reached when it started, and is flagged when its attributes arrive.
 */
export function startModelSpan(rt: Runtime, state: ForeignSpan, parentSpan: Span | undefined): void {
  const parent = state.parent;
  state.withinModelCall =
    (parentSpan === undefined ? undefined : rt.llmSpans.get(parentSpan)) ??
    parent?.withinModelCall ??
    (parent !== undefined && modelConvention(parent.attributes() as never) !== undefined ? parent : undefined) ??
    activeModelCall(rt, parentSpan);
  if (state.withinModelCall !== undefined || state.run === undefined) return;
  const exceeded = rt.models.exceeded(state.run);
  if (exceeded === undefined) return;
  state.overBudgetAtStart = exceeded.budget;
  flagLateModelSpan(rt, state);
}

/**
 * The alm.llm() call running where the span starts, when its parent is another: OpenInference's OpenAI
 * Agents tracer parents a model's span to the SDK's agent span, even inside alm.openaiAgentsModel.
 */
function activeModelCall(rt: Runtime, parentSpan: Span | undefined): ModelCallOwner | undefined {
  const active = trace.getSpan(context.active());
  return active === undefined || active === parentSpan ? undefined : rt.llmSpans.get(active);
}

/**
 * A span that started after a model budget was reached is flagged once its attributes make it a model
 * span: at start, or later (when a child starts, when an attribute is set, or when it ends).
 */
export function flagLateModelSpan(rt: Runtime, state: ForeignSpan): void {
  const budget = state.overBudgetAtStart;
  if (budget === undefined || state.ended || modelConvention(state.attributes() as never) === undefined) return;
  state.overBudgetAtStart = undefined;
  try {
    state.span.setAttributes({ [sc.ATTR_ALM_BUDGET]: budget, [sc.ATTR_ALM_POLICY_VIOLATION]: true });
  } catch (error) {
    rt.report(error);
  }
}

/** At end: count a model span toward its run's budgets and summary, once per model call. */
export function endModelSpan(rt: Runtime, state: ForeignSpan, attributes: Record<string, unknown>): void {
  const usage = modelSpanUsage(attributes as never);
  if (usage === undefined) return;
  const owner = state.withinModelCall;
  if (owner !== undefined) {
    // The enclosing model span counts the call; an enclosing alm.llm() takes the usage if it has none.
    if ('adoptUsage' in owner) owner.adoptUsage(usage.inputTokens, usage.outputTokens);
    return;
  }
  const run = state.run;
  if (run === undefined) return;
  chargeLlm(run, 1, 0, 0);
  run.recordLlmCall();
  rt.models.charge(run, usage.model ?? '(unnamed)', undefined, NO_TOKENS, usage, rt.report);
}
