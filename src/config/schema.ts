/**
 * Configuration schema: the single source of truth for `new ALM(...)` options, their defaults and
 * their types (inferred below). README's configuration table mirrors it.
 */
import type { TracerProvider } from '@opentelemetry/api';
import * as z from 'zod/mini';
import type { ALMEvent } from '../events/schema';

/** A function sink receives each batch of events; it may return a promise. */
export type EventSinkFunction = (events: ALMEvent[]) => void | Promise<void>;

const isFunction = (v: unknown) => typeof v === 'function';

const toolPatterns = z.array(z.string().check(z.minLength(1, 'tool patterns must be non-empty strings')), {
  error: (issue) => (issue.input === undefined ? undefined : 'must be a list of tool names or * globs'),
});

export const PolicyConfigSchema = z.strictObject({
  /** Tools that may run (exact names or `*` globs). When non-empty, anything else is denied. */
  allowedTools: z._default(toolPatterns, () => []),
  /** Tools that never run. Checked before allowedTools. */
  deniedTools: z._default(toolPatterns, () => []),
  /** Decision when allowedTools is empty and deniedTools does not match. */
  defaultAllow: z._default(z.boolean(), true),
  /** Per-run budget: calls that ran (success or error) count; denied calls do not. */
  maxToolCallsPerRun: z.optional(
    z.int({ error: 'must be a whole number of tool calls' }).check(z.minimum(0, 'must be 0 or more')),
  ),
  /** 'enforce' blocks denied calls; 'monitor' decides and records, and lets every call run. */
  mode: z._default(z.enum(['enforce', 'monitor']), 'enforce'),
});

const LOOPBACK_HOST = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

export const EventsConfigSchema = z
  .strictObject({
    /** Where events go: 'stdout' (JSON lines), 'http', 'file' (JSON lines appended to `path`), 'none', or a function receiving each batch. */
    sink: z._default(
      z.union([z.enum(['stdout', 'http', 'file', 'none']), z.custom<EventSinkFunction>(isFunction)], {
        error: "must be 'stdout', 'http', 'file', 'none' or a function",
      }),
      'stdout',
    ),
    /** Base URL of the ingest API for the http sink (events go to `{endpoint}/v1/events`); or ALM_ENDPOINT. */
    endpoint: z.optional(z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })),
    /** Sent as `Authorization: Bearer <apiKey>` by the http sink; or ALM_API_KEY. */
    apiKey: z.optional(z.string().check(z.minLength(1))),
    /** Allow sending the API key over plain http:// to a host that is not loopback. */
    allowInsecure: z._default(z.boolean(), false),
    /** File the file sink appends to. */
    path: z._default(z.string().check(z.minLength(1, 'must not be empty')), 'alm-events.jsonl'),
    /** Events per delivered batch. */
    batchSize: z._default(z.int().check(z.minimum(1), z.maximum(10_000)), 50),
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
  })
  .check(
    z.superRefine((events, ctx) => {
      if (events.sink === 'http' && events.endpoint === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['endpoint'],
          message: "required when sink is 'http': pass events.endpoint or set ALM_ENDPOINT",
        });
      }
      if (
        events.sink === 'http' &&
        events.endpoint !== undefined &&
        events.apiKey !== undefined &&
        !events.allowInsecure
      ) {
        const url = new URL(events.endpoint);
        if (url.protocol === 'http:' && !LOOPBACK_HOST.test(url.hostname)) {
          ctx.addIssue({
            code: 'custom',
            path: ['endpoint'],
            message: `refusing to send the API key over plain http:// to ${url.hostname}: use https://, or set events.allowInsecure: true`,
          });
        }
      }
      if (events.endpoint !== undefined) {
        const url = new URL(events.endpoint);
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
    }),
  );

export const ALMConfigSchema = z.strictObject({
  /** Identifies the agent on every event and span; or ALM_AGENT_ID. */
  agentId: z
    .string({
      error: (issue) => (issue.input === undefined ? 'required: pass agentId or set ALM_AGENT_ID' : undefined),
    })
    .check(z.minLength(1, 'must not be empty')),
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
