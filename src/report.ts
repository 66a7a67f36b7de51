/**
 * Where alm-otel's own problems go: the user's `onError`, or by default a one-line warning on
 * stderr, at most one every few seconds. Reporting never throws.
 */
/** `urgent`: the process is ending; the default reporter prints it even within its quiet period. */
export type ErrorReporter = (error: unknown, urgent?: boolean) => void;

const QUIET_MS = 5000;

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

export function createErrorReporter(onError?: (error: Error) => void): ErrorReporter {
  if (onError !== undefined) {
    return (error) => {
      try {
        onError(asError(error));
      } catch {
        // A throwing onError must not break the agent either.
      }
    };
  }
  let lastWarning = -Infinity;
  let suppressed = 0;
  return (error, urgent = false) => {
    try {
      const now = Date.now();
      if (!urgent && now - lastWarning < QUIET_MS) {
        suppressed++;
        return;
      }
      lastWarning = now;
      const more = suppressed > 0 ? ` (${suppressed} similar messages suppressed)` : '';
      suppressed = 0;
      const message = asError(error).message.split('\n', 1)[0];
      process.stderr.write(`alm-otel: ${message}${more}\n`);
    } catch {
      // stderr unavailable: nothing left to tell.
    }
  };
}
