/**
 * Budget windows: `'10s'`, `'1m'`, `'1h'`, `'1d'`, `'30d'` (a whole number and a unit: s, m, h, d).
 * Windows are fixed, not rolling: aligned to the Unix epoch in UTC, so a `'1d'` window is a UTC day
 * (00:00 to 24:00 UTC) and a `'1h'` window an hour of the clock. Every process computes the window
 * from its own clock: keep clocks in sync (NTP) so that processes agree at a boundary.
 */

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export const WINDOW_PATTERN = /^([1-9]\d{0,5})(s|m|h|d)$/;

/** The window's length in milliseconds, or undefined when `text` is not a window. */
export function windowMs(text: string): number | undefined {
  const match = WINDOW_PATTERN.exec(text);
  if (match === null) return undefined;
  return Number(match[1]) * UNIT_MS[match[2]!]!;
}

/** The window `now` falls in: its index since the epoch and when it ends. */
export function windowAt(lengthMs: number, now: number): { index: number; endsAt: number } {
  const index = Math.floor(now / lengthMs);
  return { index, endsAt: (index + 1) * lengthMs };
}
