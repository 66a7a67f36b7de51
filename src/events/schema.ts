/**
 * The ALM event schema 1.0, as the reference SDK emits it, plus `trace_id` / `span_id`.
 * This zod schema is the single source of truth: the event types are inferred from it, the
 * translator is type-checked against them, and the tests validate every event they see with it.
 */
import { z } from 'zod';

const uuid = z.uuid();
const latencyMs = z.number().nonnegative();
const attempt = z.number().int().min(1);

export const StructuredErrorSchema = z.strictObject({
  type: z.string(),
  message: z.string(),
  source: z.enum(['tool', 'policy', 'agent', 'system']),
  retryable: z.boolean(),
  code: z.string().optional(),
});

const envelope = {
  event_id: uuid,
  timestamp: z.iso.datetime({ precision: 3 }),
  agent_id: z.string().min(1),
  env: z.string().min(1),
  run_id: uuid.nullable(),
  schema_version: z.literal('1.0'),
  sdk_version: z.string().min(1),
  agent_version: z.string().nullable(),
  policy_version: z.string().nullable(),
  /** W3C trace id of the span the event describes; null when no valid span context existed. */
  trace_id: z
    .string()
    .regex(/^[0-9a-f]{32}$/)
    .nullable(),
  span_id: z
    .string()
    .regex(/^[0-9a-f]{16}$/)
    .nullable(),
};

function event<T extends string, M extends z.ZodType>(type: T, metadata: M) {
  return z.strictObject({ ...envelope, event_type: z.literal(type), metadata });
}

export const RunSummarySchema = z.strictObject({
  tool_calls: z.strictObject({
    total: z.number().int().nonnegative(),
    allowed: z.number().int().nonnegative(),
    denied: z.number().int().nonnegative(),
    error: z.number().int().nonnegative(),
    retried: z.number().int().nonnegative(),
  }),
  latencies: z.strictObject({ avg_tool_ms: latencyMs, avg_policy_ms: latencyMs, total_run_ms: latencyMs }),
  tasks: z.strictObject({ completed: z.number().int().nonnegative(), failed: z.number().int().nonnegative() }),
  handoffs: z.number().int().nonnegative(),
  // Additive, only in runs that made model calls (not in the reference schema).
  llm_calls: z.number().int().nonnegative().optional(),
  tokens: z.strictObject({ input: z.number().int().nonnegative(), output: z.number().int().nonnegative() }).optional(),
  /** Only when `policy.prices` is configured. */
  cost_usd: z.number().nonnegative().optional(),
});

export const ToolArgsSchema = z.union([
  z.strictObject({ inputs: z.record(z.string(), z.unknown()) }),
  z.strictObject({ args: z.array(z.unknown()) }),
]);

const toolIdentity = { tool_name: z.string().min(1), tool_call_id: z.string().min(1) };
const llmIdentity = {
  llm_call_id: uuid,
  provider: z.string().min(1),
  model: z.string().min(1),
  operation: z.string().min(1),
};

export const ALMEventSchema = z.discriminatedUnion('event_type', [
  // parent_run_id: additive, only for a run started inside another run.
  event('run.start', z.strictObject({ purpose: z.string().min(1).optional(), parent_run_id: uuid.optional() })),
  event(
    'run.end',
    z.strictObject({ success: z.boolean(), summary: RunSummarySchema, error: StructuredErrorSchema.optional() }),
  ),
  event(
    'task.start',
    z.strictObject({
      task_id: uuid,
      task_type: z.string().min(1).optional(),
      description: z.string().min(1).optional(),
    }),
  ),
  event('task.end', z.strictObject({ task_id: uuid, success: z.boolean(), error: StructuredErrorSchema.optional() })),
  event('tool.request', z.strictObject({ ...toolIdentity, args: ToolArgsSchema, attempt })),
  event(
    'policy.decision',
    z.strictObject({
      ...toolIdentity,
      decision: z.enum(['allow', 'deny']),
      reason: z.string().min(1),
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
        retries: z.number().int().nonnegative(),
        error: StructuredErrorSchema.optional(),
        result: z.unknown().optional(),
      })
      .refine((m) => (m.status === 'success') === (m.error === undefined), {
        message: 'error is present exactly when status is not success',
        path: ['error'],
      })
      .refine((m) => m.status === 'success' || m.result === undefined, {
        message: 'result is only present on success',
        path: ['result'],
      }),
  ),
  event(
    'handoff',
    z.strictObject({
      from_agent_id: z.string().min(1),
      to_agent_id: z.string().min(1),
      reason: z.string().min(1).optional(),
      context: z.unknown().optional(),
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
        response_model: z.string().min(1).optional(),
        response_id: z.string().min(1).optional(),
        finish_reasons: z.array(z.string()).optional(),
        input_tokens: z.number().int().nonnegative(),
        output_tokens: z.number().int().nonnegative(),
        /** Null when no price is configured for the model. */
        cost_usd: z.number().nonnegative().nullable(),
        latency_ms: latencyMs,
        error: StructuredErrorSchema.optional(),
      })
      .refine((m) => (m.status === 'success') === (m.error === undefined), {
        message: 'error is present exactly when status is not success',
        path: ['error'],
      }),
  ),
]);

/** The event types of the reference schema 1.0: what the default stream contains. */
export const REFERENCE_EVENT_TYPES = [
  'run.start',
  'run.end',
  'task.start',
  'task.end',
  'tool.request',
  'policy.decision',
  'tool.response',
  'handoff',
] as const;

export type ALMEvent = z.infer<typeof ALMEventSchema>;
export type ALMEventType = ALMEvent['event_type'];
export type StructuredErrorShape = z.infer<typeof StructuredErrorSchema>;
export type RunSummary = z.infer<typeof RunSummarySchema>;
export type ToolArgs = z.infer<typeof ToolArgsSchema>;
