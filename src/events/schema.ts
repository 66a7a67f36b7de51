/**
 * The ALM event schema 1.0, as the reference SDK emits it, plus `trace_id` / `span_id`.
 * This zod schema (zod/mini's functional API, which tree-shakes) is the single source of truth: the event types are inferred from it, the
 * translator is type-checked against them, and the tests validate every event they see with it.
 */
import * as z from 'zod/mini';

const uuid = z.uuid();
const latencyMs = z.number().check(z.nonnegative());
const attempt = z.int().check(z.minimum(1));
const count = () => z.int().check(z.nonnegative());
const nonEmpty = () => z.string().check(z.minLength(1));

export const StructuredErrorSchema = z.strictObject({
  type: z.string(),
  message: z.string(),
  source: z.enum(['tool', 'policy', 'agent', 'system']),
  retryable: z.boolean(),
  code: z.optional(z.string()),
});

const envelope = {
  event_id: uuid,
  timestamp: z.iso.datetime({ precision: 3 }),
  agent_id: nonEmpty(),
  env: nonEmpty(),
  run_id: z.nullable(uuid),
  schema_version: z.literal('1.0'),
  sdk_version: nonEmpty(),
  agent_version: z.nullable(z.string()),
  policy_version: z.nullable(z.string()),
  /** W3C trace id of the span the event describes; null when no valid span context existed. */
  trace_id: z.nullable(z.string().check(z.regex(/^[0-9a-f]{32}$/))),
  span_id: z.nullable(z.string().check(z.regex(/^[0-9a-f]{16}$/))),
};

function event<T extends string, M extends z.ZodMiniType>(type: T, metadata: M) {
  return z.strictObject({ ...envelope, event_type: z.literal(type), metadata });
}

export const RunSummarySchema = z.strictObject({
  tool_calls: z.strictObject({
    total: count(),
    allowed: count(),
    denied: count(),
    error: count(),
    retried: count(),
  }),
  latencies: z.strictObject({ avg_tool_ms: latencyMs, avg_policy_ms: latencyMs, total_run_ms: latencyMs }),
  tasks: z.strictObject({ completed: count(), failed: count() }),
  handoffs: count(),
  // Additive, only in runs that made model calls (not in the reference schema).
  llm_calls: z.optional(count()),
  tokens: z.optional(z.strictObject({ input: count(), output: count() })),
  /** Only when `policy.prices` is configured. */
  cost_usd: z.optional(z.number().check(z.nonnegative())),
  /**
   * Additive, only in runs that passed a model budget (tokens, cost, model calls): which one first,
   * its limit and what was spent, the unpriced model when that is why, and how many model calls ran
   * past a limit flagged (monitor mode, other instrumentations' calls, which cannot be stopped).
   */
  budget_exceeded: z.optional(
    z.strictObject({
      budget: z.enum(['tool_calls', 'llm_calls', 'tokens', 'cost']),
      limit: z.number().check(z.nonnegative()),
      spent: z.number().check(z.nonnegative()),
      model: z.optional(nonEmpty()),
      flagged_llm_calls: count(),
    }),
  ),
});

export const ToolArgsSchema = z.union([
  z.strictObject({ inputs: z.record(z.string(), z.unknown()) }),
  z.strictObject({ args: z.array(z.unknown()) }),
]);

const toolIdentity = { tool_name: nonEmpty(), tool_call_id: nonEmpty() };
const llmIdentity = { llm_call_id: uuid, provider: nonEmpty(), model: nonEmpty(), operation: nonEmpty() };

export const ALMEventSchema = z.discriminatedUnion('event_type', [
  // parent_run_id: additive, only for a run started inside another run.
  // labels: additive, only for a run given labels (alm.run({ labels })).
  event(
    'run.start',
    z.strictObject({
      purpose: z.optional(nonEmpty()),
      parent_run_id: z.optional(uuid),
      labels: z.optional(z.record(z.string(), z.string())),
    }),
  ),
  event(
    'run.end',
    z.strictObject({ success: z.boolean(), summary: RunSummarySchema, error: z.optional(StructuredErrorSchema) }),
  ),
  event(
    'task.start',
    z.strictObject({
      task_id: uuid,
      task_type: z.optional(nonEmpty()),
      description: z.optional(nonEmpty()),
    }),
  ),
  event('task.end', z.strictObject({ task_id: uuid, success: z.boolean(), error: z.optional(StructuredErrorSchema) })),
  event('tool.request', z.strictObject({ ...toolIdentity, args: ToolArgsSchema, attempt })),
  event(
    'policy.decision',
    z.strictObject({
      ...toolIdentity,
      decision: z.enum(['allow', 'deny']),
      reason: nonEmpty(),
      latency_ms: latencyMs,
      attempt,
    }),
  ),
  event(
    'tool.response',
    z
      .strictObject({
        ...toolIdentity,
        status: z.enum(['success', 'denied', 'error']),
        policy_latency_ms: latencyMs,
        tool_latency_ms: latencyMs,
        total_latency_ms: latencyMs,
        attempt,
        retries: count(),
        error: z.optional(StructuredErrorSchema),
        result: z.optional(z.unknown()),
      })
      .check(
        z.refine((m) => (m.status === 'success') === (m.error === undefined), {
          message: 'error is present exactly when status is not success',
          path: ['error'],
        }),
        z.refine((m) => m.status === 'success' || m.result === undefined, {
          message: 'result is only present on success',
          path: ['result'],
        }),
      ),
  ),
  event(
    'handoff',
    z.strictObject({
      from_agent_id: nonEmpty(),
      to_agent_id: nonEmpty(),
      reason: z.optional(nonEmpty()),
      context: z.optional(z.unknown()),
    }),
  ),
  // Model calls: not in the reference schema; emitted only with `events.llmEvents`.
  event('llm.request', z.strictObject(llmIdentity)),
  event(
    'llm.response',
    z
      .strictObject({
        ...llmIdentity,
        status: z.enum(['success', 'denied', 'error']),
        response_model: z.optional(nonEmpty()),
        response_id: z.optional(nonEmpty()),
        finish_reasons: z.optional(z.array(z.string())),
        input_tokens: count(),
        output_tokens: count(),
        /** Null when no price is configured for the model. */
        cost_usd: z.nullable(z.number().check(z.nonnegative())),
        latency_ms: latencyMs,
        error: z.optional(StructuredErrorSchema),
      })
      .check(
        z.refine((m) => (m.status === 'success') === (m.error === undefined), {
          message: 'error is present exactly when status is not success',
          path: ['error'],
        }),
      ),
  ),
]);

export type ALMEvent = z.infer<typeof ALMEventSchema>;
export type ALMEventType = ALMEvent['event_type'];
export type StructuredErrorShape = z.infer<typeof StructuredErrorSchema>;
export type RunSummary = z.infer<typeof RunSummarySchema>;
export type ToolArgs = z.infer<typeof ToolArgsSchema>;
