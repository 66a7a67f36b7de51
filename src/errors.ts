/** Errors alm-otel raises to its caller or passes to `onError`. */
import { budgetReason, type BudgetDetails } from './policy/budgets';

/**
 * `instanceof` that holds across alm-otel's ES module and CommonJS builds, which one process can load
 * both of (the application `import`s alm-otel, a dependency `require`s it): instances carry a brand
 * shared through `Symbol.for`, and the class checks the brand. Subclasses keep ordinary `instanceof`.
 */
function brand(cls: abstract new (...args: never[]) => Error, name: string): void {
  const key = Symbol.for(`alm-otel.${name}`);
  Object.defineProperty(cls.prototype, key, { value: true });
  Object.defineProperty(cls, Symbol.hasInstance, {
    value(this: unknown, value: unknown): boolean {
      if (this !== cls) return Function.prototype[Symbol.hasInstance].call(this, value);
      try {
        return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[key] === true;
      } catch {
        return false; // a Proxy whose traps throw is not one of ours
      }
    },
  });
}

/**
 * Thrown (or returned as a rejection, for async tools) when policy denies a tool call.
 * The tool body never ran.
 */
export class ToolDeniedError extends Error {
  static {
    brand(this, 'ToolDeniedError');
  }
  override readonly name = 'ToolDeniedError';

  constructor(
    readonly toolName: string,
    readonly toolCallId: string,
    readonly reason: string,
    /** For a denial by the tool-call budget: the numbers behind it (`budget: 'tool_calls'`). */
    readonly details?: BudgetDetails,
  ) {
    // Same wording as the reference SDK's PermissionError.
    super(`Tool '${toolName}' denied: ${reason}`);
  }
}

/**
 * Thrown (or returned as a rejection, for async functions) when a model call is refused because its
 * run, or an enclosing run, has reached a budget. The model call never started.
 */
export class BudgetExceededError extends Error {
  override readonly name = 'BudgetExceededError';

  constructor(
    readonly details: BudgetDetails,
    /** The message, when the numbers alone do not say it (a scoped budget's key, a store that did not answer). */
    message: string = budgetReason(details),
  ) {
    super(message);
  }
}

/**
 * A tool with `timeoutMs` did not settle in time: its promise is abandoned (and the attempt's
 * `alm.signal()` aborted with this error). Its name is the reference's retryable `TimeoutError`.
 */
export class ToolTimeoutError extends Error {
  override readonly name = 'TimeoutError';

  constructor(
    readonly toolName: string,
    readonly timeoutMs: number,
  ) {
    super(`Tool '${toolName}' timed out after ${timeoutMs} ms`);
  }
}

/** Invalid configuration, thrown by constructors. `issues` holds one line per bad field. */
export class ALMConfigError extends Error {
  static {
    brand(this, 'ALMConfigError');
  }
  override readonly name = 'ALMConfigError';

  constructor(readonly issues: readonly string[]) {
    super(`Invalid alm-otel configuration:\n${issues.map((line) => `  - ${line}`).join('\n')}`);
  }
}

export interface DeliveryErrorOptions {
  /** HTTP status of the answer, when there was one. */
  status?: number;
  /** Whether sending the same batch again may succeed (network errors, timeouts, 408, 429, 5xx). */
  retryable?: boolean;
  /** The receiver's Retry-After, in milliseconds. */
  retryAfterMs?: number;
  /** The receiver refused the batch as too large (413): smaller batches may pass. */
  tooLarge?: boolean;
  cause?: unknown;
}

/**
 * Events could not be delivered; passed to `onError`, never thrown into the agent. Sinks throw it to
 * tell delivery whether to retry. Its message never contains the API key.
 */
export class ALMDeliveryError extends Error {
  static {
    brand(this, 'ALMDeliveryError');
  }
  override readonly name = 'ALMDeliveryError';
  readonly status: number | undefined;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly tooLarge: boolean;

  constructor(
    message: string,
    /** How many events this failure concerns. */
    readonly eventCount: number,
    options: DeliveryErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = options.status;
    this.retryable = options.retryable ?? false;
    this.retryAfterMs = options.retryAfterMs;
    this.tooLarge = options.tooLarge ?? false;
  }
}
