/**
 * Tool retries and timeouts: `alm.tool(name, fn, { retry: { maxAttempts, ... }, timeoutMs })`.
 *
 * Each attempt is a whole tool call of its own (policy decision, execute_tool span, the three events),
 * numbered by `attempt` under one `tool_call_id`; only errors classified retryable are tried again (or
 * those `retryOn` accepts), never a denial. A tool with either option returns a promise: waiting
 * between attempts, or for a deadline, needs one. None of this is on the hot path of a plain tool.
 */
import { context } from '@opentelemetry/api';
import { ToolDeniedError, ToolTimeoutError } from '../errors';
import { toStructuredError } from '../events/errors';
import type { Runtime } from './runtime';
import { isThenable } from './settle';
import type { AnyFunction } from './tool';

export interface RetryOptions {
  /** Attempts in all, the first included (default 3). */
  maxAttempts?: number;
  /** Wait before the second attempt (default 100 ms); it doubles for each later one. */
  initialDelayMs?: number;
  /** Longest wait between attempts (default 10 000 ms). */
  maxDelayMs?: number;
  /**
   * Whether to try again after `error` (thrown by attempt number `attempt`). Default: when alm-otel
   * classifies the error retryable (its structured error's `retryable`). Never asked about a denial.
   */
  retryOn?: (error: unknown, attempt: number) => boolean;
}

/** The resolved retry and timeout settings of one tool. */
export interface Resilience {
  readonly maxAttempts: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly retryOn: ((error: unknown, attempt: number) => boolean) | undefined;
  readonly timeoutMs: number | undefined;
}

const RETRY_KEYS = ['maxAttempts', 'initialDelayMs', 'maxDelayMs', 'retryOn'];

function wholeNumber(at: string, field: string, value: unknown, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new TypeError(`${at}: options.${field} must be a whole number ≥ ${min}`);
  }
  return value;
}

/** Checks `retry` and `timeoutMs`; undefined when the tool has neither. TypeErrors name the field. */
export function resilienceOf(name: string, retry: unknown, timeoutMs: unknown): Resilience | undefined {
  if (retry === undefined && timeoutMs === undefined) return undefined;
  const at = `alm.tool('${name}')`;
  const timeout = wholeNumber(at, 'timeoutMs', timeoutMs, 1);
  if (retry === undefined) {
    return { maxAttempts: 1, initialDelayMs: 0, maxDelayMs: 0, retryOn: undefined, timeoutMs: timeout };
  }
  if (typeof retry !== 'object' || retry === null) throw new TypeError(`${at}: options.retry must be an object`);
  for (const key of Object.keys(retry)) {
    if (!RETRY_KEYS.includes(key)) {
      throw new TypeError(`${at}: options.retry.${key} is not an option (${RETRY_KEYS.join(', ')} are)`);
    }
  }
  const r = retry as RetryOptions;
  const initialDelayMs = wholeNumber(at, 'retry.initialDelayMs', r.initialDelayMs, 0) ?? 100;
  const maxDelayMs = wholeNumber(at, 'retry.maxDelayMs', r.maxDelayMs, 0) ?? Math.max(10_000, initialDelayMs);
  if (maxDelayMs < initialDelayMs)
    throw new TypeError(`${at}: options.retry.maxDelayMs must be at least initialDelayMs`);
  if (r.retryOn !== undefined && typeof r.retryOn !== 'function') {
    throw new TypeError(`${at}: options.retry.retryOn must be a function`);
  }
  return {
    maxAttempts: wholeNumber(at, 'retry.maxAttempts', r.maxAttempts, 1) ?? 3,
    initialDelayMs,
    maxDelayMs,
    retryOn: r.retryOn,
    timeoutMs: timeout,
  };
}

/** Wait after attempt `attempt` failed: initialDelayMs, doubling, capped at maxDelayMs. */
export function delayAfter(r: Resilience, attempt: number): number {
  return Math.min(r.maxDelayMs, r.initialDelayMs * 2 ** (attempt - 1));
}

function shouldRetry(rt: Runtime, r: Resilience, error: unknown, attempt: number): boolean {
  if (error instanceof ToolDeniedError || attempt >= r.maxAttempts) return false;
  if (r.retryOn === undefined) return toStructuredError(error, 'tool').retryable;
  try {
    return r.retryOn(error, attempt) === true;
  } catch (failure) {
    rt.report(failure); // a retryOn that throws: no retry, the tool's own error stands
    return false;
  }
}

/** Runs `attempt(1)`, `attempt(2)`, … until one succeeds or the error is not to be retried. */
export async function retrying(rt: Runtime, r: Resilience, attempt: (n: number) => unknown): Promise<unknown> {
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (error) {
      if (!shouldRetry(rt, r, error, n)) throw error;
      const ms = delayAfter(r, n);
      // Not unref'd: the agent is waiting for this tool.
      if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
    }
  }
}

/**
 * `fn` with a deadline: a promise it returns that has not settled within `timeoutMs` is abandoned
 * with a ToolTimeoutError, and the attempt's AbortSignal (`alm.signal()` inside the tool) is
 * aborted with it. A synchronous tool cannot be interrupted; its result is returned as it is.
 */
export function withTimeout(rt: Runtime, name: string, fn: AnyFunction, timeoutMs: number): AnyFunction {
  return function (this: unknown, ...args: unknown[]): unknown {
    const controller = new AbortController();
    const scope = rt.storage.getStore();
    // A scope like a run's: a shut-down instance's storage is enabled again only while it is open.
    rt.enterScope();
    let result: unknown;
    try {
      result = rt.storage.run(
        { run: scope?.run, otelContext: scope?.otelContext ?? context.active(), signal: controller.signal },
        () => fn.apply(this, args),
      );
    } catch (error) {
      rt.exitScope();
      throw error;
    }
    if (!isThenable(result)) {
      rt.exitScope();
      return result;
    }
    // The scope closes when the attempt settles, or when it is abandoned: an attempt that never
    // settles must not keep a shut-down instance's storage enabled.
    let open = true;
    const exit = () => {
      if (open) rt.exitScope();
      open = false;
    };
    const settled = Promise.resolve(result).finally(exit);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        exit();
        const error = new ToolTimeoutError(name, timeoutMs);
        controller.abort(error);
        reject(error);
      }, timeoutMs);
      settled.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  };
}
