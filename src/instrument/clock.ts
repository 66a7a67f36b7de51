/**
 * Epoch milliseconds with sub-millisecond precision. The monotonic clock gives precise durations but
 * stops while a host is suspended and ignores wall-clock corrections, so it is re-anchored to
 * Date.now() at most once a second: timestamps stay on the wall clock, durations stay precise.
 */
const REANCHOR_MS = 1000;
let anchor = Date.now() - performance.now();
let anchoredAt = performance.now();

export function now(): number {
  const t = performance.now();
  if (t - anchoredAt > REANCHOR_MS) {
    anchor = Date.now() - t;
    anchoredAt = t;
  }
  return anchor + t;
}
