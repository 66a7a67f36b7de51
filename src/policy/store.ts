/**
 * Where scoped budgets keep their counters: in this process (the default, exact, no I/O), or in Redis,
 * shared by every process that uses it (policy/redis-store.ts). A counter is a number under a key
 * (one per budget, scope key, window and measure); a store does three things with them:
 *
 *   admit(charges)  atomically: checks every charge against its limit and, only if all pass, adds
 *                   them all; else adds nothing and names the first that failed. Never a read then
 *                   a write: two admissions can never both take the last unit.
 *   adjust(changes) adds (or, with a negative delta, gives back) without a check: a model call's
 *                   actual usage against what it reserved, or a refund.
 *   read(keys)      the counters now (missing: 0), for `spent()`.
 *
 * A charge is `strict` when it must never take the counter above the limit (call counts, and token
 * or cost reservations of calls that declared their maximum); else it is admitted while the counter
 * is below the limit (a call whose size is known only afterwards), and may pass it by that call.
 */

export interface Charge {
  readonly key: string;
  readonly limit: number;
  readonly amount: number;
  /** Strict: admitted only if counter + amount <= limit. Else: admitted while counter < limit. */
  readonly strict: boolean;
  /** How long the counter lives after this charge (its window's end plus slack); 0: no expiry. */
  readonly ttlMs: number;
}

export interface Change {
  readonly key: string;
  readonly delta: number;
  readonly ttlMs: number;
}

/** Admitted, or the index of the first charge refused and its counter then. */
export type Admission =
  { readonly ok: true } | { readonly ok: false; readonly index: number; readonly current: number };

export interface BudgetStore {
  /** Whether decisions wait for I/O (a shared store): the calls it decides become asynchronous. */
  readonly shared: boolean;
  admit(charges: readonly Charge[]): Admission | Promise<Admission>;
  adjust(changes: readonly Change[]): void | Promise<void>;
  read(keys: readonly string[]): number[] | Promise<number[]>;
  close?(): Promise<void>;
}

const ADMITTED: Admission = Object.freeze({ ok: true });

/** Counters in this process: exact, synchronous, each expired key removed when next seen or swept. */
export class MemoryStore implements BudgetStore {
  readonly shared = false;
  private readonly counters = new Map<string, { value: number; expiresAt: number }>();
  private sweepAt = 0;

  constructor(private readonly clock: () => number = Date.now) {}

  private current(key: string, now: number): number {
    const entry = this.counters.get(key);
    if (entry === undefined) return 0;
    if (entry.expiresAt !== 0 && entry.expiresAt <= now) {
      this.counters.delete(key);
      return 0;
    }
    return entry.value;
  }

  private add(key: string, delta: number, ttlMs: number, now: number): void {
    const value = this.current(key, now) + delta;
    const existing = this.counters.get(key);
    // As Redis's PEXPIRE on a key without one: the first charge of a window sets when it goes.
    const expiresAt = existing?.expiresAt ?? (ttlMs > 0 ? now + ttlMs : 0);
    this.counters.set(key, { value, expiresAt });
  }

  /** Drop expired counters now and then, so that windows and runs long gone hold no memory. */
  private sweep(now: number): void {
    if (now < this.sweepAt) return;
    this.sweepAt = now + 60_000;
    for (const [key, entry] of this.counters) {
      if (entry.expiresAt !== 0 && entry.expiresAt <= now) this.counters.delete(key);
    }
  }

  admit(charges: readonly Charge[]): Admission {
    const now = this.clock();
    this.sweep(now);
    for (let i = 0; i < charges.length; i++) {
      const { key, limit, amount, strict } = charges[i]!;
      const current = this.current(key, now);
      if (strict ? current + amount > limit : current >= limit) return { ok: false, index: i, current };
    }
    for (const { key, amount, ttlMs } of charges) this.add(key, amount, ttlMs, now);
    return ADMITTED;
  }

  adjust(changes: readonly Change[]): void {
    const now = this.clock();
    for (const { key, delta, ttlMs } of changes) this.add(key, delta, ttlMs, now);
  }

  read(keys: readonly string[]): number[] {
    const now = this.clock();
    return keys.map((key) => this.current(key, now));
  }

  /** Counters held now (for tests: nothing grows without bound). */
  get size(): number {
    return this.counters.size;
  }
}
