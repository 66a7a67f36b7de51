/**
 * Other instrumentations' model-call spans (policy/model-conventions.ts) counted toward the enclosing
 * run's model budgets by the policy SpanProcessor: the call, its tokens and its cost, when the span ends,
 * so the next alm.llm() or tool call after a limit is refused. A processor cannot stop a call that has
 * started; one that starts when a budget is already reached (or whose model has no price under a cost
 * budget) is flagged as a violation on its span, and counted in its run's summary (`budget_exceeded`).
 */
import type { Span } from '@opentelemetry/api';
import type { Runtime } from '../instrument/runtime';
import * as sc from '../semconv';
import { countModelSpan } from './admission';
import { budgetDetails, type BudgetDetails } from './budgets';
import type { ForeignSpan } from './foreign';
import { modelConvention, modelSpanUsage } from './model-conventions';

/** What a counted model span carries until it ends: the budget it started over, and usage of spans inside it. */
interface ModelSpanState {
  over: BudgetDetails | undefined;
  nestedInput: number;
  nestedOutput: number;
}

const states = new WeakMap<ForeignSpan, ModelSpanState>();

function text(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/** At start: note whether the span is inside a model call counted elsewhere, and flag a budget already spent. */
export function startModelSpan(rt: Runtime, state: ForeignSpan, parentSpan: Span | undefined): void {
  const parent = state.parent;
  state.withinModelCall =
    (parentSpan === undefined ? undefined : rt.llmSpans.get(parentSpan)) ??
    parent?.withinModelCall ??
    (parent !== undefined && modelConvention(parent.attributes() as never) !== undefined ? parent : undefined);
  if (state.withinModelCall !== undefined || state.run === undefined) return;
  const attributes = state.attributes();
  if (modelConvention(attributes as never) === undefined) return;
  const models = rt.models;
  let over = models.exceeded(state.run);
  const model = text(attributes[sc.ATTR_GEN_AI_REQUEST_MODEL]) ?? text(attributes['ai.model.id']);
  if (over === undefined && models.refuseUnpriced && model !== undefined && !models.mayBePricedByResponse(model)) {
    if (models.price(model) === undefined) {
      over = budgetDetails('cost', models.limits.maxCostPerRun!, state.run.costUsed, 0, { model });
    }
  }
  states.set(state, { over, nestedInput: 0, nestedOutput: 0 });
  if (over === undefined) return;
  try {
    state.span.setAttributes({ [sc.ATTR_ALM_BUDGET]: over.budget, [sc.ATTR_ALM_POLICY_VIOLATION]: true });
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
    if ('adoptUsage' in owner) {
      // An enclosing alm.llm() is the same call: it takes the usage (counted once, the larger of the two).
      owner.adoptUsage(usage.inputTokens, usage.outputTokens);
      return;
    }
    const outer = states.get(owner);
    if (outer !== undefined && !owner.ended) {
      // An enclosing model span (a framework's, around an instrumented client's) is the same call:
      // it counts this usage when it ends, unless it reports more of its own.
      outer.nestedInput += usage.inputTokens;
      outer.nestedOutput += usage.outputTokens;
      return;
    }
    // Otherwise (the enclosing span ended first): counted as a call of its own, never dropped.
  }
  const run = state.run;
  if (run === undefined) return;
  const own = states.get(state);
  countModelSpan(
    rt.models,
    run,
    {
      model: usage.model ?? '(unnamed)',
      responseModel: text(attributes[sc.ATTR_GEN_AI_RESPONSE_MODEL]) ?? text(attributes['ai.response.model']),
      inputTokens: Math.max(usage.inputTokens, own?.nestedInput ?? 0),
      outputTokens: Math.max(usage.outputTokens, own?.nestedOutput ?? 0),
    },
    own?.over,
  );
}
