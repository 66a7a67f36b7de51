/** Epoch milliseconds with sub-millisecond precision, from the monotonic clock. */
const origin = performance.timeOrigin;

export function now(): number {
  return origin + performance.now();
}
