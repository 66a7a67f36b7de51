/**
 * How each instrumentation convention marks a model-call (inference) span, and where it keeps the
 * model's name and the call's token usage, read when the span ends. The policy SpanProcessor counts
 * these toward the enclosing run's model budgets.
 *
 *   - OpenTelemetry GenAI: `gen_ai.operation.name` of an inference operation (`chat`,
 *     `text_completion`, `generate_content`, `embeddings`), `gen_ai.usage.input_tokens` /
 *     `output_tokens`: Vercel AI SDK 7's `@ai-sdk/otel`, and OpenTelemetry's own GenAI instrumentations.
 *   - OpenLLMetry / Traceloop: `llm.request.type` (`chat`, `completion`) with `gen_ai.usage.*`
 *     (`input_tokens` / `output_tokens`, or the older `prompt_tokens` / `completion_tokens`).
 *   - Vercel AI SDK 5 and 6, and 7's `LegacyOpenTelemetry`: the provider-call spans,
 *     `ai.operationId` ending in `.doGenerate`, `.doStream` or `.doEmbed` (the enclosing
 *     `ai.generateText` span repeats their total and is not counted), `ai.usage.inputTokens` / `outputTokens` (or
 *     `promptTokens` / `completionTokens` before v5), `ai.model.id`.
 *   - OpenInference: `openinference.span.kind = LLM`, `llm.token_count.prompt` / `.completion`,
 *     `llm.model_name`.
 * A model span inside another counted model span (a framework span around an instrumented client's
 * span, for the same call) is counted once, as the outer one.
 */
import type { Attributes } from '@opentelemetry/api';
import * as sc from '../semconv';

export interface ModelSpanUsage {
  /** The convention that recognised the span. */
  readonly convention: 'gen_ai' | 'openllmetry' | 'ai_sdk' | 'openinference';
  /** The requested model (else the response's), for prices; undefined when the span names none. */
  readonly model: string | undefined;
  readonly inputTokens: number;
  readonly outputTokens: number;
}

const INFERENCE_OPERATIONS = new Set(['chat', 'text_completion', 'generate_content', 'embeddings']);

function text(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

function tokens(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.round(v) : 0;
}

function firstTokens(a: Attributes, keys: readonly string[]): number {
  for (const key of keys) if (a[key] !== undefined) return tokens(a[key]);
  return 0;
}

/** Whether a span's attributes mark it a model call in some convention (usage may not be set yet). */
export function modelConvention(a: Attributes): ModelSpanUsage['convention'] | undefined {
  if (a[sc.ATTR_ALM_LLM_CALL_ID] !== undefined) return undefined; // alm.llm's own span: counted by alm.llm
  const operation = a[sc.ATTR_GEN_AI_OPERATION_NAME];
  if (typeof operation === 'string' && INFERENCE_OPERATIONS.has(operation)) return 'gen_ai';
  const aiOperation = a['ai.operationId'];
  if (typeof aiOperation === 'string' && /\.do(Generate|Stream|Embed)$/.test(aiOperation)) {
    return 'ai_sdk';
  }
  if (a['openinference.span.kind'] === 'LLM') return 'openinference';
  const requestType = a['llm.request.type'];
  if (requestType === 'chat' || requestType === 'completion') return 'openllmetry';
  return undefined;
}

/** A model call's model and token usage, from the attributes of its ended span; undefined if it is none. */
export function modelSpanUsage(a: Attributes): ModelSpanUsage | undefined {
  const convention = modelConvention(a);
  switch (convention) {
    case undefined:
      return undefined;
    case 'gen_ai':
    case 'openllmetry':
      return {
        convention,
        model: text(a[sc.ATTR_GEN_AI_REQUEST_MODEL]) ?? text(a[sc.ATTR_GEN_AI_RESPONSE_MODEL]),
        inputTokens: firstTokens(a, [sc.ATTR_GEN_AI_USAGE_INPUT_TOKENS, 'gen_ai.usage.prompt_tokens']),
        outputTokens: firstTokens(a, [sc.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS, 'gen_ai.usage.completion_tokens']),
      };
    case 'ai_sdk':
      return {
        convention,
        model: text(a['ai.model.id']) ?? text(a[sc.ATTR_GEN_AI_REQUEST_MODEL]),
        // Embedding calls (`.doEmbed`) report one `ai.usage.tokens`.
        inputTokens: firstTokens(a, [
          'ai.usage.inputTokens',
          'ai.usage.promptTokens',
          'ai.usage.tokens',
          sc.ATTR_GEN_AI_USAGE_INPUT_TOKENS,
        ]),
        outputTokens: firstTokens(a, [
          'ai.usage.outputTokens',
          'ai.usage.completionTokens',
          sc.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
        ]),
      };
    case 'openinference':
      return {
        convention,
        model: text(a['llm.model_name']),
        inputTokens: firstTokens(a, ['llm.token_count.prompt']),
        outputTokens: firstTokens(a, ['llm.token_count.completion']),
      };
  }
}
