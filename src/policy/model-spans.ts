/**
 * Other instrumentations' model-call spans (policy/model-conventions.ts) counted toward the enclosing
 * run's model budgets by the policy SpanProcessor: the call, its tokens and its cost, when the span ends,
 * so the next alm.llm() or tool call after a limit is refused. A processor cannot stop a call that has
 * started; one that starts when a budget is already reached (or whose model has no price under a cost
 * budget) is flagged as a violation on its span, and counted in its run's summary (`budget_exceeded`).
 * Some instrumentations set a span's attributes only after starting it (OpenInference's tracer starts
 * every span bare and sets its kind right after): such a span keeps the budget as it stood when it
 * started, and is decided as a model span when its attributes arrive.
 */
import { context, trace, type Span } from '@opentelemetry/api';
import type { Runtime } from '../instrument/runtime';
import * as sc from '../semconv';
import { countModelSpan } from './admission';
import { budgetDetails, chargeLlm, type BudgetDetails } from './budgets';
import type { ForeignSpan, ModelCallOwner } from './foreign';
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

/**
 * At start: note whether the span is inside a model call counted elsewhere; if not, and it is in a run,
 * keep the budget as it stands now, and decide it as a model span if its attributes say it is one.
 */
export function startModelSpan(rt: Runtime, state: ForeignSpan, parentSpan: Span | undefined): void {
  const parent = state.parent;
  state.withinModelCall =
    (parentSpan === undefined ? undefined : rt.llmSpans.get(parentSpan)) ??
    parent?.withinModelCall ??
    (parent !== undefined && modelConvention(parent.attributes() as never) !== undefined ? parent : undefined) ??
    activeModelCall(rt, parentSpan);
  if (state.withinModelCall !== undefined || state.run === undefined) return;
  state.modelPending = true;
  state.overAtStart = rt.models.exceeded(state.run);
  recogniseModelSpan(rt, state);
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
 * Decide a span started in a run as a model span once its attributes make it one: at start, or later
 * (when a child starts, when an attribute is set on an SDK without onEnding, when it ends). Its budget
 * is the one that stood when it started; it is flagged while the span is still writable.
 */
export function recogniseModelSpan(rt: Runtime, state: ForeignSpan): void {
  const run = state.run;
  if (!state.modelPending || run === undefined) return;
  const attributes = state.attributes();
  if (modelConvention(attributes as never) === undefined) return;
  state.modelPending = false;
  const models = rt.models;
  let over = state.overAtStart;
  state.overAtStart = undefined;
  const model = text(attributes[sc.ATTR_GEN_AI_REQUEST_MODEL]) ?? text(attributes['ai.model.id']);
  if (over === undefined && models.refuseUnpriced && model !== undefined && !models.mayBePricedByResponse(model)) {
    if (models.price(model) === undefined) {
      over = budgetDetails('cost', models.limits.maxCostPerRun!, run.costUsed, 0, { model });
    }
  }
  states.set(state, { over, nestedInput: 0, nestedOutput: 0 });
  if (over === undefined || state.ended) return;
  try {
    state.span.setAttributes({ [sc.ATTR_ALM_BUDGET]: over.budget, [sc.ATTR_ALM_POLICY_VIOLATION]: true });
  } catch (error) {
    rt.report(error);
  }
}

/**
 * Mastra (`@mastra/otel-bridge`): a `chat` span (`mastra.span.type = model_generation`) covers a whole
 * `generate()` and alone carries tokens (the sum of its steps); each model call is a `model_step` span
 * inside it, without usage. Each step counts as one model call when it ends; the chat span then adds
 * only its tokens.
 */
const MASTRA_TYPE = 'mastra.span.type';

function countMastraStep(state: ForeignSpan): void {
  // Its parent is the chat span, whose attributes arrive only when it ends.
  const chat = state.parent;
  if (chat === undefined || chat.withinModelCall !== undefined || state.run === undefined) return;
  chat.modelSteps++;
  chargeLlm(state.run, 1, 0, 0);
  state.run.recordLlmCall();
}

/** At end: count a model span toward its run's budgets and summary, once per model call. */
export function endModelSpan(rt: Runtime, state: ForeignSpan, attributes: Record<string, unknown>): void {
  if (state.almModelCalls) return;
  if (attributes[MASTRA_TYPE] === 'model_step') return countMastraStep(state);
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
  recogniseModelSpan(rt, state); // named a model span only as it ended: its budget as it started
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
    // Mastra: its model_step spans counted the calls; the chat span adds only its tokens.
    state.modelSteps === 0,
  );
}
