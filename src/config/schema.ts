/**
 * Configuration schema: the single source of truth for `new ALM(...)` options, their defaults and
 * their types (inferred below). README's configuration table mirrors it.
 */
import type { TracerProvider } from '@opentelemetry/api';
import { z } from 'zod';
import type { ALMEvent } from '../events/schema';

/** A function sink receives each batch of events; it may return a promise. */
export type EventSinkFunction = (events: ALMEvent[]) => void | Promise<void>;

const isFunction = (v: unknown) => typeof v === 'function';

const toolPatterns = z.array(z.string().min(1, 'tool patterns must be non-empty strings'), {
  error: (issue) => (issue.input === undefined ? undefined : 'must be a list of tool names or * globs'),
});

const wholeCount = (what: string) =>
  z
    .number({ error: `must be a whole number of ${what}` })
    .int(`must be a whole number of ${what}`)
    .min(0, 'must be 0 or more');

export const PolicyConfigSchema = z
  .strictObject({
    /** Tools that may run (exact names or `*` globs). When non-empty, anything else is denied. */
    allowedTools: toolPatterns.default([]),
    /** Tools that never run. Checked before allowedTools. */
    deniedTools: toolPatterns.default([]),
    /** Decision when allowedTools is empty and deniedTools does not match. */
    defaultAllow: z.boolean().default(true),
    /** Per-run budget: calls that ran (success or error) count; denied calls do not. */
    maxToolCallsPerRun: wholeCount('tool calls').optional(),
    /** 'enforce' blocks denied calls; 'monitor' decides and records, and lets every call run. */
    mode: z.enum(['enforce', 'monitor']).default('enforce'),
    /** Per-run budget of model calls (alm.llm calls, refused ones not counted). */
    maxLlmCallsPerRun: wholeCount('model calls').optional(),
    /** Per-run budget of tokens, input and output together, from alm.llm calls and other instrumentations' model spans. */
    maxTokensPerRun: wholeCount('tokens').optional(),
    /** Per-run budget in USD, priced with `prices`. */
    maxCostPerRun: z.number({ error: 'must be a number of USD' }).min(0, 'must be 0 or more').optional(),
    /** USD per million tokens, by model name (the request's model, else the response's). No lookup over the network. */
    prices: z
      .record(
        z.string().min(1),
        z.strictObject({
          inputPerMillion: z.number({ error: 'must be a number of USD' }).min(0, 'must be 0 or more'),
          outputPerMillion: z.number({ error: 'must be a number of USD' }).min(0, 'must be 0 or more'),
        }),
      )
      .default({}),
  })
  .superRefine((policy, ctx) => {
    if (policy.maxCostPerRun !== undefined && Object.keys(policy.prices).length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['prices'],
        message:
          "required with maxCostPerRun: USD per million tokens by model, e.g. { 'gpt-4o-mini': { inputPerMillion: 0.15, outputPerMillion: 0.6 } }",
      });
    }
  });

const LOOPBACK_HOST = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

export const EventsConfigSchema = z
  .strictObject({
    /** Where events go: 'stdout' (JSON lines), 'http', 'file' (JSON lines appended to `path`), 'none', or a function receiving each batch. */
    sink: z
      .union([z.enum(['stdout', 'http', 'file', 'none']), z.custom<EventSinkFunction>(isFunction)], {
        error: "must be 'stdout', 'http', 'file', 'none' or a function",
      })
      .default('stdout'),
    /** Base URL of the ingest API for the http sink (events go to `{endpoint}/v1/events`); or ALM_ENDPOINT. */
    endpoint: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
    /** Sent as `Authorization: Bearer <apiKey>` by the http sink; or ALM_API_KEY. */
    apiKey: z.string().min(1).optional(),
    /** Allow sending the API key over plain http:// to a host that is not loopback. */
    allowInsecure: z.boolean().default(false),
    /** File the file sink appends to. */
    path: z.string().min(1, 'must not be empty').default('alm-events.jsonl'),
    /** Events per delivered batch. */
    batchSize: z.number().int().min(1).max(10_000).default(50),
    /** Most events in one batch when a backlog waits; batches grow from batchSize up to it (never below batchSize). */
    maxBatchSize: z.number().int().min(1).max(100_000).default(1000),
    /** Most bytes of JSON in one batch, for the http, file and stdout sinks (a single larger event goes alone). */
    maxBatchBytes: z.number().int().min(1024).default(1_000_000),
    /** Most batches in flight at once to the http sink, while a backlog of at least batchSize events waits. */
    maxInFlight: z.number().int().min(1).max(64).default(4),
    /** Longest time an event waits before delivery starts. */
    flushIntervalMs: z.number().int().min(1).default(1000),
    /** Longest one batch's delivery may take (the http request, or any sink's write); past it the batch is retried. */
    timeoutMs: z.number().int().min(1).default(10_000),
    /** Most events held for delivery; past it the oldest events other than run.start/run.end are dropped. */
    maxQueueSize: z.number().int().min(1).default(10_000),
    /** First retry delay after a retryable failure; it doubles (with jitter) up to retryMaxDelayMs. */
    retryInitialDelayMs: z.number().int().min(1).default(500),
    /** Longest retry delay, also the cap on a receiver's Retry-After. */
    retryMaxDelayMs: z.number().int().min(1).default(30_000),
    /** How long shutdown() keeps retrying before it reports what could not be sent. */
    shutdownTimeoutMs: z.number().int().min(0).default(30_000),
    /** Deliver queued events when the process ends: on beforeExit, SIGTERM and SIGINT. */
    flushOnExit: z.boolean().default(true),
    /** Also emit llm.request / llm.response events for model calls (not in the reference schema). */
    llmEvents: z.boolean().default(false),
    /** Directory of the crash-safe spool: events are written ahead to disk and replayed by the next process on it. Off when unset. */
    spoolDir: z.string().min(1, 'must not be empty').optional(),
    /** Most bytes of events the spool holds; past it the oldest events other than run.start/run.end are dropped. */
    spoolMaxBytes: z
      .number()
      .int()
      .min(4096)
      .default(64 * 1024 * 1024),
  })
  .superRefine((events, ctx) => {
    // Runs even when a field failed its own check: an endpoint that is not a URL is reported by z.url().
    const url = events.endpoint !== undefined && URL.canParse(events.endpoint) ? new URL(events.endpoint) : undefined;
    if (events.sink === 'http' && events.endpoint === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['endpoint'],
        message: "required when sink is 'http': pass events.endpoint or set ALM_ENDPOINT",
      });
    }
    if (events.sink === 'http' && url !== undefined && events.apiKey !== undefined && !events.allowInsecure) {
      if (url.protocol === 'http:' && !LOOPBACK_HOST.test(url.hostname)) {
        ctx.addIssue({
          code: 'custom',
          path: ['endpoint'],
          message: `refusing to send the API key over plain http:// to ${url.hostname}: use https://, or set events.allowInsecure: true`,
        });
      }
    }
    if (url !== undefined) {
      if (url.username !== '' || url.password !== '') {
        ctx.addIssue({
          code: 'custom',
          path: ['endpoint'],
          message: 'must not contain credentials: pass the key as events.apiKey (sent as a bearer token)',
        });
      }
    }
    if (events.retryMaxDelayMs < events.retryInitialDelayMs) {
      ctx.addIssue({ code: 'custom', path: ['retryMaxDelayMs'], message: 'must be at least retryInitialDelayMs' });
    }
  });

export const CaptureConfigSchema = z.strictObject({
  /** Record tool arguments (tool.request `args`, and the span's with captureToolContent); else a marker says they were withheld. */
  inputs: z.boolean().default(true),
  /** Record tool results (tool.response `result`, and the span's with captureToolContent); else a marker says they were withheld. */
  outputs: z.boolean().default(true),
});

/** Extra keys to redact: names (matched as the reference list is) or regular expressions. */
const RedactKeysSchema = z
  .array(
    z.union([z.string().min(1), z.instanceof(RegExp)], {
      error: 'each entry must be a non-empty key name or a RegExp',
    }),
    { error: (issue) => (issue.input === undefined ? undefined : 'must be a list of key names or RegExps') },
  )
  .default([]);

export const ALMConfigSchema = z.strictObject({
  /** Identifies the agent on every event and span; or ALM_AGENT_ID. */
  agentId: z
    .string({
      error: (issue) => (issue.input === undefined ? 'required: pass agentId or set ALM_AGENT_ID' : undefined),
    })
    .min(1, 'must not be empty'),
  /**
   * false: observe nothing (no spans, no events, no timers, no exit hooks); tools run as plain
   * functions, still held to the policy. Or ALM_ENABLED=false.
   */
  enabled: z.boolean({ error: 'must be true or false (from ALM_ENABLED: true, false, 1 or 0)' }).default(true),
  /** Deployment environment; or ALM_ENV. */
  env: z.string().min(1).default('development'),
  agentVersion: z.string().min(1).optional(),
  policyVersion: z.string().min(1).optional(),
  policy: PolicyConfigSchema.default(PolicyConfigSchema.parse({})),
  events: EventsConfigSchema.default(EventsConfigSchema.parse({})),
  /**
   * Also put the (redacted) tool arguments and results on tool spans as gen_ai.tool.call.arguments /
   * gen_ai.tool.call.result. Opt-in, as the GenAI conventions make them; ALM events always carry them.
   */
  captureToolContent: z.boolean().default(false),
  /**
   * Keys whose values are redacted, on top of the reference list (password, token, api_key, apikey,
   * secret, key, authorization, cookie): a name matches keys containing it, in any letter case; a
   * RegExp is tested against the key.
   */
  redactKeys: RedactKeysSchema,
  /** Whether tool arguments and results are recorded, in events and spans alike; `alm.tool(name, fn, { capture })` overrides it per tool. */
  capture: CaptureConfigSchema.default(CaptureConfigSchema.parse({})),
  /** Receives delivery and instrumentation problems. Default: a rate-limited one-line warning on stderr. */
  onError: z.custom<(error: Error) => void>(isFunction, 'must be a function').optional(),
  /** Tracer provider to use instead of the global one registered with @opentelemetry/api. */
  tracerProvider: z
    .custom<TracerProvider>(
      (v) => typeof v === 'object' && v !== null && isFunction((v as TracerProvider).getTracer),
      'must be an OpenTelemetry TracerProvider',
    )
    .optional(),
});

/** Options for `new ALM(...)`. agentId may come from ALM_AGENT_ID instead. */
export type ALMOptions = Omit<z.input<typeof ALMConfigSchema>, 'agentId'> & { agentId?: string };
export type ALMConfig = z.output<typeof ALMConfigSchema>;
export type PolicyConfig = z.output<typeof PolicyConfigSchema>;
export type EventsConfig = z.output<typeof EventsConfigSchema>;
export type CaptureConfig = z.output<typeof CaptureConfigSchema>;
