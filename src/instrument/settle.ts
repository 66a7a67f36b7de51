/** Observing a call's outcome without changing it: sync results stay sync, promises stay promises. */

export type Settled = (failed: boolean, valueOrError: unknown) => void;

const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;

/** An `async function`: refusing to run it rejects rather than throws, as the function itself would. */
export function isAsyncFunction(fn: unknown): boolean {
  return fn instanceof AsyncFunction;
}

/** Refuse to run `fn`: throw, or for an `async function` return a rejection. */
export function fail<T>(fn: unknown, error: Error): T {
  if (isAsyncFunction(fn)) return Promise.reject(error) as T;
  throw error;
}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  try {
    return (
      value !== null &&
      (typeof value === 'object' || typeof value === 'function') &&
      typeof (value as PromiseLike<unknown>).then === 'function'
    );
  } catch {
    return false;
  }
}

/**
 * Run `invoke`, tell `done` how it ended, and hand back exactly what it returned or threw.
 * `done` must not throw.
 */
export function observe<T>(invoke: () => T, done: Settled): T {
  let result: T;
  try {
    result = invoke();
  } catch (error) {
    done(true, error);
    throw error;
  }
  if (!isThenable(result)) {
    done(false, result);
    return result;
  }
  return result.then(
    (value) => {
      done(false, value);
      return value;
    },
    (error: unknown) => {
      done(true, error);
      throw error;
    },
  ) as T;
}
