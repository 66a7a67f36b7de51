/** Retry delays: exponential with jitter, never above `maxMs`; a server's Retry-After is honoured up to `maxMs`. */

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

/** Delay before retry number `attempt` (1 for the first retry): between half and all of the exponential step. */
export function backoffDelay(attempt: number, options: BackoffOptions, retryAfterMs?: number): number {
  const step = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(attempt - 1, 30));
  const jittered = step / 2 + Math.random() * (step / 2);
  return Math.min(options.maxMs, Math.max(jittered, retryAfterMs ?? 0));
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
