/**
 * Token usage and response details read from what a model client returned, for the common shapes:
 * OpenAI Chat Completions (`usage.prompt_tokens` / `completion_tokens`), OpenAI Responses and
 * Anthropic Messages (`usage.input_tokens` / `output_tokens`), the Vercel AI SDK (`totalUsage` or
 * `usage` with `inputTokens` / `outputTokens`, or `promptTokens` / `completionTokens` before v5).
 * Reading never throws: a result with getters that throw simply has no usage.
 */
import { saturatedTokens } from '../policy/budgets';

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
}

export interface ResponseDetails {
  model?: string;
  id?: string;
  finishReasons?: string[];
}

export function read(o: unknown, key: string): unknown {
  if (o === null || typeof o !== 'object') return undefined;
  try {
    return (o as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

/** A count in a result: NaN, Infinity and huge numbers count as the most tokens (never as none), negatives not at all. */
export function count(v: unknown): number | undefined {
  if (typeof v !== 'number' || v < 0) return undefined;
  return saturatedTokens(v);
}

function usagePair(usage: unknown): TokenUsage | undefined {
  if (usage === null || typeof usage !== 'object') return undefined;
  const pairs: [string, string][] = [
    ['inputTokens', 'outputTokens'], // AI SDK 5+
    ['input_tokens', 'output_tokens'], // OpenAI Responses, Anthropic
    ['prompt_tokens', 'completion_tokens'], // OpenAI Chat Completions
    ['promptTokens', 'completionTokens'], // AI SDK 4
  ];
  for (const [inKey, outKey] of pairs) {
    const input = count(read(usage, inKey));
    const output = count(read(usage, outKey));
    if (input !== undefined || output !== undefined) return { inputTokens: input ?? 0, outputTokens: output ?? 0 };
  }
  return undefined;
}

/** Token usage in a model call's result, if it has one of the known shapes. */
export function usageFromResult(result: unknown): TokenUsage | undefined {
  // The AI SDK's totalUsage covers every step of a multi-step call; its usage is the last step's.
  return usagePair(read(result, 'totalUsage')) ?? usagePair(read(result, 'usage'));
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/** Response model, id and finish reasons, where the result carries them. */
export function responseFromResult(result: unknown): ResponseDetails {
  const details: ResponseDetails = {};
  const response = read(result, 'response'); // AI SDK: { id, modelId }
  const model = text(read(result, 'model')) ?? text(read(response, 'modelId'));
  const id = text(read(result, 'id')) ?? text(read(response, 'id'));
  if (model !== undefined) details.model = model;
  if (id !== undefined) details.id = id;
  const reasons: string[] = [];
  const choices = read(result, 'choices'); // OpenAI Chat Completions
  try {
    if (Array.isArray(choices)) {
      for (const choice of choices.slice(0, 16)) {
        const reason = text(read(choice, 'finish_reason'));
        if (reason !== undefined) reasons.push(reason);
      }
    }
  } catch {
    // A hostile array (a throwing index getter): no finish reasons from it.
  }
  const single = text(read(result, 'stop_reason')) ?? text(read(result, 'finishReason')); // Anthropic, AI SDK
  if (single !== undefined) reasons.push(single);
  if (reasons.length > 0) details.finishReasons = reasons;
  return details;
}
