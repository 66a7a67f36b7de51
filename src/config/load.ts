/**
 * Validates options for `new ALM(...)` and `new ALMEventExporter(...)`: fills the environment
 * fallbacks, applies defaults, and turns every problem into one readable line naming the field.
 */
import type * as z from 'zod/mini';
import { ALMConfigError } from '../errors';
import { ENGLISH } from '../messages';
import { ALMConfigSchema, CaptureConfigSchema, EventsConfigSchema, PolicyConfigSchema, type ALMConfig } from './schema';

type Env = Record<string, string | undefined>;

const KNOWN_KEYS: Record<string, readonly string[]> = {
  '': Object.keys(ALMConfigSchema.shape),
  policy: Object.keys(PolicyConfigSchema.shape),
  events: Object.keys(EventsConfigSchema.shape),
  capture: Object.keys(CaptureConfigSchema.shape),
};

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(above + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

function pathText(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
}

function formatIssue(issue: z.core.$ZodIssue): string[] {
  const at = pathText(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const known = KNOWN_KEYS[at] ?? [];
    return issue.keys.map((key) => {
      const suggestion = known.find((k) => editDistance(k.toLowerCase(), key.toLowerCase()) <= 2);
      const name = at === '' ? key : `${at}.${key}`;
      return `${name}: unknown option${suggestion === undefined ? '' : ` (did you mean '${suggestion}'?)`}`;
    });
  }
  return [`${at === '' ? '(options)' : at}: ${issue.message}`];
}

/** Throws ALMConfigError listing every problem; returns the issues otherwise formatted. */
export function parseOrThrow<S extends z.ZodMiniType>(schema: S, input: unknown): z.output<S> {
  // zod/mini loads no locale: English messages for the checks whose schema gives none, for this parse only.
  const result = schema.safeParse(input, ENGLISH);
  if (result.success) return result.data;
  throw new ALMConfigError(result.error.issues.flatMap(formatIssue));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const ENABLED_WORDS: Record<string, boolean> = { true: true, '1': true, false: false, '0': false };

/** Fill unset options from ALM_AGENT_ID, ALM_ENV, ALM_ENDPOINT and ALM_API_KEY. */
export function withEnvironment(options: unknown, env: Env = process.env): unknown {
  if (options === undefined) options = {};
  if (!isRecord(options)) return options;
  const filled: Record<string, unknown> = { ...options };
  if (filled.agentId === undefined && env.ALM_AGENT_ID) filled.agentId = env.ALM_AGENT_ID;
  if (filled.env === undefined && env.ALM_ENV) filled.env = env.ALM_ENV;
  if (isRecord(filled.events) && filled.events.sink === 'http') {
    const events = { ...filled.events };
    if (events.endpoint === undefined && env.ALM_ENDPOINT) events.endpoint = env.ALM_ENDPOINT;
    if (events.apiKey === undefined && env.ALM_API_KEY) events.apiKey = env.ALM_API_KEY;
    filled.events = events;
  }
  return filled;
}

/** `enabled` from ALM_ENABLED when not given (an ALM option only: ALMEventExporter has none). */
function withEnabled(options: unknown, env: Env): unknown {
  if (options === undefined) options = {};
  if (!isRecord(options)) return options;
  const filled: Record<string, unknown> = { ...options };
  if (filled.enabled === undefined && env.ALM_ENABLED) {
    // Anything else stays a string, which the schema refuses naming ALM_ENABLED.
    filled.enabled = ENABLED_WORDS[env.ALM_ENABLED.trim().toLowerCase()] ?? env.ALM_ENABLED;
  }
  if (filled.enabled === false && isRecord(filled.events) && filled.events.sink === 'http') {
    // Nothing is sent while disabled: a local run without ALM_ENDPOINT must not need one.
    if (filled.events.endpoint === undefined && !env.ALM_ENDPOINT) filled.events = { ...filled.events, sink: 'none' };
  }
  return filled;
}

export function loadConfig(options: unknown, env: Env = process.env): ALMConfig {
  return parseOrThrow(ALMConfigSchema, withEnvironment(withEnabled(options, env), env));
}
