/**
 * Configuration schema: the single source of truth for `new ALM(...)` options, their defaults and
 * their types (inferred below). README's configuration table mirrors it. Written with zod/mini, whose
 * functional checks tree-shake: the full zod API is most of an import's cost otherwise.
 */
import type { TracerProvider } from '@opentelemetry/api';
import * as z from 'zod/mini';
import type { ALMEvent } from '../events/schema';
import type { RedisClientLike } from '../policy/redis-store';
import { windowMs } from '../policy/windows';
import { LABEL_NAME } from '../instrument/labels';

/** A function sink receives each batch of events; it may return a promise. */
export type EventSinkFunction = (events: ALMEvent[]) => void | Promise<void>;

const isFunction = (v: unknown) => typeof v === 'function';

const toolPatterns = z.array(z.string().check(z.minLength(1, 'tool patterns must be non-empty strings')), {
  error: (issue) => (issue.input === undefined ? undefined : 'must be a list of tool names or * globs'),
});

const wholeCount = (what: string) =>
  z.int({ error: `must be a whole number of ${what}` }).check(z.minimum(0, 'must be 0 or more'));

const usd = () => z.number({ error: 'must be a number of USD' }).check(z.minimum(0, 'must be 0 or more'));

/** A price per million tokens: finite, so that no count of tokens makes a cost NaN. */
const price = () =>
  z
    .number({ error: 'must be a number of USD per million tokens' })
    .check(z.minimum(0, 'must be 0 or more'), z.maximum(1e9, 'must be at most 1e9 USD per million tokens'));

const ScopedBudgetSchema = z
  .strictObject({
    /** 'run', 'agent' (the agentId), or the name of a run label ('tenant', 'user', …). */
    scope: z
      .string({ error: "must be 'run', 'agent' or a label's name" })
      .check(z.regex(LABEL_NAME, "must be 'run', 'agent' or a label's name (letters, digits, _ . -)")),
    /** Absent: the scope's lifetime. Else a fixed window aligned to UTC: '10s', '1m', '1h', '1d', '30d'. */
    window: z.optional(
      z
        .string()
        .check(
          z.refine(
            (w) => windowMs(w) !== undefined,
            "must be a duration: a whole number and s, m, h or d ('10s', '1m', '1h', '1d', '30d')",
          ),
        ),
    ),
    maxToolCalls: z.optional(wholeCount('tool calls')),
    maxLlmCalls: z.optional(wholeCount('model calls')),
    maxTokens: z.optional(wholeCount('tokens')),
    maxCostUsd: z.optional(usd()),
  })
  .check(
    z.refine(
      (b) => [b.maxToolCalls, b.maxLlmCalls, b.maxTokens, b.maxCostUsd].some((limit) => limit !== undefined),
      'needs at least one of maxToolCalls, maxLlmCalls, maxTokens, maxCostUsd',
    ),
  );

const isRedisClient = (v: unknown) =>
  typeof v === 'object' &&
  v !== null &&
  (isFunction((v as { sendCommand?: unknown }).sendCommand) || isFunction((v as { call?: unknown }).call));

const StoreSchema = z.strictObject({
  /** A redis:// or rediss:// URL (alm-otel creates a node-redis client), or a node-redis or ioredis client. */
  redis: z.union(
    [
      z.url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL, or a node-redis or ioredis client' }),
      z.custom<RedisClientLike>(isRedisClient),
    ],
    { error: 'must be a redis:// or rediss:// URL, or a node-redis or ioredis client' },
  ),
  /** When Redis does not answer within timeoutMs: 'closed' refuses the call, 'open' lets it run (counted locally). */
  failMode: z._default(z.enum(['closed', 'open'], { error: "must be 'closed' or 'open'" }), 'closed'),
  /** Longest a decision waits for Redis. */
  timeoutMs: z._default(z.int().check(z.minimum(1), z.maximum(60_000)), 250),
  /** Namespace of the keys (a hash tag: `{alm}:…`). */
  keyPrefix: z._default(
    z.string().check(z.regex(/^[^{}\s]{1,64}$/, 'must be 1-64 characters, no braces or spaces')),
    'alm',
  ),
});

export const PolicyConfigSchema = z
  .strictObject({
    /** Tools that may run (exact names or `*` globs). When non-empty, anything else is denied. */
    allowedTools: z._default(toolPatterns, () => []),
    /** Tools that never run. Checked before allowedTools. */
    deniedTools: z._default(toolPatterns, () => []),
    /** Decision when allowedTools is empty and deniedTools does not match. */
    defaultAllow: z._default(z.boolean(), true),
    /** Per-run budget: calls that ran (success or error) count; denied calls do not. */
    maxToolCallsPerRun: z.optional(wholeCount('tool calls')),
    /** 'enforce' blocks denied calls; 'monitor' decides and records, and lets every call run. */
    mode: z._default(z.enum(['enforce', 'monitor']), 'enforce'),
    /** Per-run budget of model calls (alm.llm calls, refused ones not counted). */
    maxLlmCallsPerRun: z.optional(wholeCount('model calls')),
    /** Per-run budget of tokens, input and output together, from alm.llm calls and other instrumentations' model spans. */
    maxTokensPerRun: z.optional(wholeCount('tokens')),
    /** Per-run budget in USD, priced with `prices`. */
    maxCostPerRun: z.optional(usd()),
    /**
     * USD per million tokens, by model name or `*` glob ('gpt-4o*'): the request's model, else the
     * response's. No lookup over the network.
     */
    prices: z._default(
      z.record(
        z.string().check(z.minLength(1, 'model names must be non-empty')),
        z.strictObject({ inputPerMillion: price(), outputPerMillion: price() }),
      ),
      () => ({}),
    ),
    /**
     * Under maxCostPerRun, a model call with no price: 'refuse' (default) refuses it with
     * BudgetExceededError naming the model, or counts it as over the budget when it already ran;
     * 'allow' lets it run and counts its cost as $0 (onError says so once per model).
     */
    unpricedModels: z._default(z.enum(['refuse', 'allow'], { error: "must be 'refuse' or 'allow'" }), 'refuse'),
    /**
     * Budgets by scope and window, on top of the per-run ones: `{ scope, window?, maxToolCalls?,
     * maxLlmCalls?, maxTokens?, maxCostUsd? }`, scope 'run', 'agent' or a label's name.
     */
    budgets: z._default(z.array(ScopedBudgetSchema), () => []),
    /** Where `budgets` are counted: this process (default), or `{ redis }` shared by every process using it. */
    store: z.optional(StoreSchema),
  })
  .check(
    z.superRefine((policy, ctx) => {
      const costBudget = policy.maxCostPerRun !== undefined || policy.budgets.some((b) => b.maxCostUsd !== undefined);
      if (costBudget && Object.keys(policy.prices).length === 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['prices'],
          message:
            "required with maxCostPerRun or a budget's maxCostUsd: USD per million tokens by model, e.g. { 'gpt-4o-mini': { inputPerMillion: 0.15, outputPerMillion: 0.6 } }",
        });
      }
    }),
  );

const LOOPBACK_HOST = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

export const EventsConfigSchema = z
  .strictObject({
    /**
     * Where events go: 'stdout' (JSON lines), 'http', 'file' (JSON lines appended to `path`), 'otlp'
     * (OpenTelemetry log records over OTLP/HTTP), 'none', or a function receiving each batch.
     */
    sink: z._default(
      z.union([z.enum(['stdout', 'http', 'file', 'otlp', 'none']), z.custom<EventSinkFunction>(isFunction)], {
        error: "must be 'stdout', 'http', 'file', 'otlp', 'none' or a function",
      }),
      'stdout',
    ),
    /**
     * http sink: base URL of the ingest API (events go to `{endpoint}/v1/events`); or ALM_ENDPOINT.
     * otlp sink: the OTLP/HTTP base URL (records go to `{endpoint}/v1/logs`, unless the path already
     * ends with /v1/logs); else OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT, http://localhost:4318.
     */
    endpoint: z.optional(z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })),
    /** Sent as `Authorization: Bearer <apiKey>` by the http and otlp sinks; or ALM_API_KEY (http sink). */
    apiKey: z.optional(z.string().check(z.minLength(1))),
    /** Extra request headers for the otlp sink, over OTEL_EXPORTER_OTLP_LOGS_HEADERS / OTEL_EXPORTER_OTLP_HEADERS. Never shown in a message. */
    headers: z._default(z.record(z.string().check(z.minLength(1)), z.string()), () => ({})),
    /** otlp sink encoding; else OTEL_EXPORTER_OTLP_LOGS_PROTOCOL / OTEL_EXPORTER_OTLP_PROTOCOL; default 'http/protobuf'. */
    otlpProtocol: z.optional(z.enum(['http/protobuf', 'http/json'])),
    /** otlp sink: resource attributes over the detected ones (service.name defaults to OTEL_SERVICE_NAME, else the agentId). */
    resourceAttributes: z._default(
      z.record(z.string().check(z.minLength(1)), z.union([z.string(), z.number(), z.boolean()])),
      () => ({}),
    ),
    /** Allow sending the API key over plain http:// to a host that is not loopback. */
    allowInsecure: z._default(z.boolean(), false),
    /** File the file sink appends to. */
    path: z._default(z.string().check(z.minLength(1, 'must not be empty')), 'alm-events.jsonl'),
    /** Events per delivered batch. */
    batchSize: z._default(z.int().check(z.minimum(1), z.maximum(10_000)), 50),
    /** Most events in one batch when a backlog waits; batches grow from batchSize up to it (never below batchSize). */
    maxBatchSize: z._default(z.int().check(z.minimum(1), z.maximum(100_000)), 1000),
    /** Most bytes of JSON in one batch, for the http, file and stdout sinks (a single larger event goes alone). */
    maxBatchBytes: z._default(z.int().check(z.minimum(1024)), 1_000_000),
    /** Most batches in flight at once to the http sink, while a backlog of at least batchSize events waits. */
    maxInFlight: z._default(z.int().check(z.minimum(1), z.maximum(64)), 4),
    /** Longest time an event waits before delivery starts. */
    flushIntervalMs: z._default(z.int().check(z.minimum(1)), 1000),
    /** Longest one batch's delivery may take (the http request, or any sink's write); past it the batch is retried. */
    timeoutMs: z._default(z.int().check(z.minimum(1)), 10_000),
    /** Most events held for delivery; past it the oldest events other than run.start/run.end are dropped. */
    maxQueueSize: z._default(z.int().check(z.minimum(1)), 10_000),
    /** First retry delay after a retryable failure; it doubles (with jitter) up to retryMaxDelayMs. */
    retryInitialDelayMs: z._default(z.int().check(z.minimum(1)), 500),
    /** Longest retry delay, also the cap on a receiver's Retry-After. */
    retryMaxDelayMs: z._default(z.int().check(z.minimum(1)), 30_000),
    /** How long shutdown() keeps retrying before it reports what could not be sent. */
    shutdownTimeoutMs: z._default(z.int().check(z.minimum(0)), 30_000),
    /** Deliver queued events when the process ends: on beforeExit, SIGTERM and SIGINT. */
    flushOnExit: z._default(z.boolean(), true),
    /** Also emit llm.request / llm.response events for model calls (not in the reference schema). */
    llmEvents: z._default(z.boolean(), false),
    /** Directory of the crash-safe spool: events are written ahead to disk and replayed by the next process on it. Off when unset. */
    spoolDir: z.optional(z.string().check(z.minLength(1, 'must not be empty'))),
    /** Most bytes of events the spool holds; past it the oldest events other than run.start/run.end are dropped. */
    spoolMaxBytes: z._default(z.int().check(z.minimum(4096)), 64 * 1024 * 1024),
  })
  .check(
    z.superRefine((events, ctx) => {
      // Runs even when a field failed its own check: an endpoint that is not a URL is reported by z.url().
      const url = events.endpoint !== undefined && URL.canParse(events.endpoint) ? new URL(events.endpoint) : undefined;
      if (events.sink === 'http' && events.endpoint === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['endpoint'],
          message: "required when sink is 'http': pass events.endpoint or set ALM_ENDPOINT",
        });
      }
      const keyed = events.sink === 'http' || events.sink === 'otlp';
      if (keyed && url !== undefined && events.apiKey !== undefined && !events.allowInsecure) {
        if (url.protocol === 'http:' && !LOOPBACK_HOST.test(url.hostname)) {
          ctx.addIssue({
            code: 'custom',
            path: ['endpoint'],
            message: `refusing to send the API key over plain http:// to ${url.hostname}: use https://, or set events.allowInsecure: true`,
          });
        }
      }
      if (url !== undefined && (url.username !== '' || url.password !== '')) {
        ctx.addIssue({
          code: 'custom',
          path: ['endpoint'],
          message: 'must not contain credentials: pass the key as events.apiKey (sent as a bearer token)',
        });
      }
      if (events.retryMaxDelayMs < events.retryInitialDelayMs) {
        ctx.addIssue({ code: 'custom', path: ['retryMaxDelayMs'], message: 'must be at least retryInitialDelayMs' });
      }
    }),
  );

export const CaptureConfigSchema = z.strictObject({
  /** Record tool arguments (tool.request `args`, and the span's with captureToolContent); else a marker says they were withheld. */
  inputs: z._default(z.boolean(), true),
  /** Record tool results (tool.response `result`, and the span's with captureToolContent); else a marker says they were withheld. */
  outputs: z._default(z.boolean(), true),
});

/** Extra keys to redact: names (matched as the reference list is) or regular expressions. */
const RedactKeysSchema = z._default(
  z.array(
    z.union([z.string().check(z.minLength(1)), z.instanceof(RegExp)], {
      error: 'each entry must be a non-empty key name or a RegExp',
    }),
    { error: (issue) => (issue.input === undefined ? undefined : 'must be a list of key names or RegExps') },
  ),
  () => [],
);

export const ALMConfigSchema = z.strictObject({
  /** Identifies the agent on every event and span; or ALM_AGENT_ID. */
  agentId: z
    .string({
      error: (issue) => (issue.input === undefined ? 'required: pass agentId or set ALM_AGENT_ID' : undefined),
    })
    .check(z.minLength(1, 'must not be empty')),
  /**
   * false: observe nothing (no spans, no events, no timers, no exit hooks); tools run as plain
   * functions, still held to the policy. Or ALM_ENABLED=false.
   */
  enabled: z._default(z.boolean({ error: 'must be true or false (from ALM_ENABLED: true, false, 1 or 0)' }), true),
  /** Deployment environment; or ALM_ENV. */
  env: z._default(z.string().check(z.minLength(1)), 'development'),
  agentVersion: z.optional(z.string().check(z.minLength(1))),
  policyVersion: z.optional(z.string().check(z.minLength(1))),
  // prefault: an absent section is parsed from {} (its defaults filled), when options are parsed.
  policy: z.prefault(PolicyConfigSchema, {}),
  events: z.prefault(EventsConfigSchema, {}),
  /**
   * Also put the (redacted) tool arguments and results on tool spans as gen_ai.tool.call.arguments /
   * gen_ai.tool.call.result. Opt-in, as the GenAI conventions make them; ALM events always carry them.
   */
  captureToolContent: z._default(z.boolean(), false),
  /**
   * Keys whose values are redacted, on top of the reference list (password, token, api_key, apikey,
   * secret, key, authorization, cookie): a name matches keys containing it, in any letter case; a
   * RegExp is tested against the key.
   */
  redactKeys: RedactKeysSchema,
  /** Whether tool arguments and results are recorded, in events and spans alike; `alm.tool(name, fn, { capture })` overrides it per tool. */
  capture: z.prefault(CaptureConfigSchema, {}),
  /** Receives delivery and instrumentation problems. Default: a rate-limited one-line warning on stderr. */
  onError: z.optional(z.custom<(error: Error) => void>(isFunction, 'must be a function')),
  /** Tracer provider to use instead of the global one registered with @opentelemetry/api. */
  tracerProvider: z.optional(
    z.custom<TracerProvider>(
      (v) => typeof v === 'object' && v !== null && isFunction((v as TracerProvider).getTracer),
      'must be an OpenTelemetry TracerProvider',
    ),
  ),
});

/** Options for `new ALM(...)`. agentId may come from ALM_AGENT_ID instead. */
export type ALMOptions = Omit<z.input<typeof ALMConfigSchema>, 'agentId'> & { agentId?: string };
export type ALMConfig = z.output<typeof ALMConfigSchema>;
export type PolicyConfig = z.output<typeof PolicyConfigSchema>;
export type EventsConfig = z.output<typeof EventsConfigSchema>;
export type CaptureConfig = z.output<typeof CaptureConfigSchema>;
