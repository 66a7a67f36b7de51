/**
 * Other instrumentations' model-call spans (policy/model-conventions.ts) counted toward the enclosing
 * run's model budgets by the policy SpanProcessor: the call, its tokens and its cost, when the span ends,
 * so the next alm.llm() or tool call after a limit is refused. A processor cannot stop a call that has
 * started; one that starts when a budget is already reached is flagged as a violation on its span.
 */
import type { Span } from '@opentelemetry/api';
import type { Runtime } from '../instrument/runtime';
import * as sc from '../semconv';
import { chargeLlm } from './budgets';
import type { ForeignSpan } from './foreign';
import { modelConvention, modelSpanUsage } from './model-conventions';

const NO_TOKENS = { inputTokens: 0, outputTokens: 0 };

/** At start: note whether the span is inside a model call counted elsewhere, and flag a budget already spent. */
export function startModelSpan(rt: Runtime, state: ForeignSpan, parentSpan: Span | undefined): void {
  const parent = state.parent;
  state.withinModelCall =
    (parentSpan === undefined ? undefined : rt.llmSpans.get(parentSpan)) ??
    parent?.withinModelCall ??
    (parent !== undefined && modelConvention(parent.attributes() as never) !== undefined ? parent : undefined);
  if (state.withinModelCall !== undefined || state.run === undefined) return;
  if (modelConvention(state.attributes() as never) === undefined) return;
  const exceeded = rt.models.exceeded(state.run);
  if (exceeded === undefined) return;
  try {
    state.span.setAttributes({ [sc.ATTR_ALM_BUDGET]: exceeded.budget, [sc.ATTR_ALM_POLICY_VIOLATION]: true });
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
    // The enclosing model span counts the call; an enclosing alm.llm() takes the usage if it has none.
    if ('adoptUsage' in owner) owner.adoptUsage(usage.inputTokens, usage.outputTokens);
    return;
  }
  const run = state.run;
  if (run === undefined) return;
  if (state.modelSteps === 0) {
    chargeLlm(run, 1, 0, 0);
    run.recordLlmCall();
  }
  rt.models.charge(run, usage.model ?? '(unnamed)', undefined, NO_TOKENS, usage, rt.report);
}
