/**
 * Delivery: moves translated events from a bounded buffer to the sink, off the agent's path.
 *
 * - Batches: a batch goes out once `batchSize` events wait, or `flushIntervalMs` after an event was
 *   queued. Under a backlog a batch takes everything waiting, up to `maxBatchSize` events and (for
 *   sinks that send JSON) `maxBatchBytes`, so batches grow with the load.
 * - Concurrency: sinks that allow it (http) get up to `maxInFlight` batches at once while a backlog
 *   of at least `batchSize` events waits; otherwise one. A batch never carries an event of a run
 *   whose run.start is still in flight in another batch, so run.start arrives first.
 * - Failures: a retryable failure puts the batch back in its place (same event_ids, so receivers can
 *   de-duplicate) and pauses with backoff; a batch that is too large (413) or holds events the
 *   receiver rejects (400, 422) is split in halves until the culprits are single events, which are
 *   set aside and counted; any other rejection sets the whole batch aside.
 * - Bounds: everything held (waiting, split, in flight) stays within `maxQueueSize` events, with
 *   or without a spool (the spool keeps on disk what fits in its own budget); past it the oldest events other than
 *   run.start/run.end are dropped and counted, and onError is told at most every OVERFLOW_REPORT_MS.
 */
import { ALMDeliveryError } from '../errors';
import type { ALMEvent } from '../events/schema';
import type { ErrorReporter } from '../report';
import { backoffDelay } from './backoff';
import { detached } from './detached';
import {
  BodyBuilder,
  EventBuffer,
  LineCollector,
  Scratch,
  lineOf,
  type BatchSerializer,
  type BufferedEvent,
  type Framing,
} from './buffer';

/**
 * Receives batches of events. Throw an ALMDeliveryError to say whether to retry; anything else thrown
 * is not retried (the function sink turns its function's throws into retryable errors).
 */
export interface EventSink {
  /** Takes a batch of events; `lines` (the same events as JSON, in order) for sinks that declare `serialized`. */
  write(events: ALMEvent[], lines?: readonly string[]): void | Promise<void>;
  /** The sink sends each event's JSON apart: delivery serialises each event once and passes the lines to `write`. */
  readonly serialized?: boolean;
  /**
   * The sink sends a batch as one JSON text, framed so: delivery holds the events as JSON bytes from
   * the moment they are queued, builds each batch's body and hands it to `writeBody` instead of `write`.
   */
  readonly framing?: Framing;
  /** A batch of `count` events as one body (UTF-8, framed as `framing` says). */
  writeBody?(body: Uint8Array, count: number): void | Promise<void>;
  /** Several batches may be written at once. */
  readonly concurrent?: boolean;
  /** Write serialised events synchronously: used when the process ends without a chance to wait (process.exit, a crash). */
  writeSync?(lines: readonly string[]): void;
  shutdown?(): Promise<void>;
}

export interface DeliveryOptions {
  /** Events that make a batch worth sending at once. */
  batchSize: number;
  /** Most events in one batch, under a backlog (never below batchSize). */
  maxBatchSize: number;
  /** Most serialised bytes in one batch, for sinks that send JSON (a single larger event still goes alone). */
  maxBatchBytes: number;
  /** Most batches in flight at once, for sinks that allow it. */
  maxInFlight: number;
  /** Longest an event waits before its batch goes out. */
  flushIntervalMs: number;
  /** Longest a sink may take over one batch; past it the batch is retried (at-least-once). */
  timeoutMs: number;
  maxQueueSize: number;
  retryInitialDelayMs: number;
  retryMaxDelayMs: number;
}

export interface DeliveryStats {
  /** Events the sink accepted. */
  delivered: number;
  /** Event deliveries attempted again after a retryable failure (one event retried twice counts 2). */
  retried: number;
  /** Events set aside: rejected for good by the sink, or still undelivered when shutdown gave up. */
  failed: number;
  /** Events dropped because the queue was full (or emitted after shutdown). */
  dropped: number;
  /** Events waiting for delivery now (in the buffer or in flight). */
  queued: number;
}

/** What the spool hears: events delivery now holds, and events that left its hands for good (delivered, set aside or dropped). */
export interface DeliveryListener {
  added(entries: readonly BufferedEvent[]): void;
  settled(entries: readonly BufferedEvent[]): void;
}

/** onError hears about overflow at most this often, with the counts since the last report. */
export const OVERFLOW_REPORT_MS = 20_000;

/** Statuses that reject particular events rather than every request: split to find them. */
const PER_EVENT_REJECTION = new Set([400, 422]);

/** An error's message, safely (a getter may throw). */
export function describeError(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return 'unprintable error';
  }
}

function asDeliveryError(error: unknown, count: number): ALMDeliveryError {
  if (error instanceof ALMDeliveryError) return error;
  return new ALMDeliveryError(`event sink failed for ${count} events: ${describeError(error)}`, count, {
    cause: error,
  });
}

/** Wait for `promise`, or `ms` at most; the timer is cleared either way, so it never holds the process open. */
export async function within(promise: Promise<void> | undefined, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const elapsed = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, ms))));
    await (promise === undefined ? elapsed : Promise.race([promise, elapsed]));
  } finally {
    clearTimeout(timer);
  }
}

export class Delivery {
  private readonly buffer = new EventBuffer();
  /** Halves of split batches, sent before anything else. */
  private splits: BufferedEvent[][] = [];
  private splitEvents = 0;
  private readonly counts = { delivered: 0, retried: 0, failed: 0, dropped: 0 };
  private requests = 0;
  private inflightEvents = 0;
  private readonly inflight = new Set<BufferedEvent[]>();
  /** Bumped when drain() gives up: answers to batches sent before are ignored. */
  private generation = 0;
  /** Run ids whose run.start is in a batch in flight, with how many such batches. */
  private readonly startsInFlight = new Map<string, number>();
  /** An event has waited flushIntervalMs, or a flush was asked: send even a partial batch. */
  private due = false;
  private flushTimer: NodeJS.Timeout | undefined;
  private kickScheduled: NodeJS.Immediate | undefined;
  private attempt = 0;
  /** Retryable failures so far (flush() returns on one). */
  private failures = 0;
  private retryAt = 0;
  /** When the receiver asked (Retry-After) not to be called before; flush() respects it, unlike backoff. */
  private notBefore = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Most events per batch: maxBatchSize, lowered for good when the receiver said 413. */
  private eventLimit: number;
  private readonly concurrency: number;
  /** Serialises each batch as it is taken, for sinks that send JSON: into one body, or into lines. */
  private readonly body: BodyBuilder | undefined;
  private readonly lines: LineCollector | undefined;
  private readonly serializer: BatchSerializer | undefined;
  private waiters: (() => void)[] = [];
  // Reported once per outage (an outage ends with the next successful delivery).
  private reportedRetrying = false;
  private readonly reportedRejections = new Set<string>();
  private overflowReportedAt = -Infinity;
  private overflowUnreported = 0;
  private overflowTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly sink: EventSink,
    private readonly options: DeliveryOptions,
    private readonly report: ErrorReporter,
    private readonly listener: DeliveryListener | undefined = undefined,
  ) {
    this.eventLimit = Math.max(options.batchSize, options.maxBatchSize);
    this.concurrency = sink.concurrent ? Math.max(1, options.maxInFlight) : 1;
    if (sink.framing !== undefined && sink.writeBody !== undefined) {
      this.serializer = this.body = new BodyBuilder(sink.framing, new Scratch());
    } else if (sink.serialized === true) this.serializer = this.lines = new LineCollector();
  }

  stats(): DeliveryStats {
    return { ...this.counts, queued: this.held };
  }

  /** Events held: waiting, split or in flight. */
  get held(): number {
    return this.buffer.size + this.splitEvents + this.inflightEvents;
  }

  /**
   * Queue events. `lines` holds their JSON when already serialised (the spool does), `owner` is
   * opaque data handed back to the settle listener. With `urgent`, they go out without waiting for
   * a full batch.
   */
  push(events: readonly ALMEvent[], urgent = false, lines?: readonly string[], owner?: unknown): void {
    const added: BufferedEvent[] | undefined = this.listener === undefined ? undefined : [];
    if (this.body !== undefined && lines === undefined) {
      // Held as JSON bytes from now on: the events' objects die young instead of being copied by
      // every garbage collection until their batch is delivered.
      const spans: number[] = [];
      const chunk = this.body.encode(events, spans);
      for (let i = 0; i < events.length; i++) {
        const event = events[i]!;
        const start = spans[2 * i]!;
        const entry =
          start < 0
            ? this.buffer.add(event, undefined, 0, owner)
            : this.buffer.add(
                { event_type: event.event_type, run_id: event.run_id },
                undefined,
                spans[2 * i + 1]!,
                owner,
                chunk,
                start,
              );
        added?.push(entry);
      }
    } else {
      for (let i = 0; i < events.length; i++) {
        const line = lines?.[i];
        const entry = this.buffer.add(events[i]!, line, line === undefined ? 0 : Buffer.byteLength(line), owner);
        added?.push(entry);
      }
    }
    if (added !== undefined) this.listener!.added(added);
    this.trim();
    if (urgent) this.due = true;
    if (this.buffer.size === 0) return;
    if (this.due || this.buffer.size >= this.options.batchSize) this.scheduleKick();
    else this.armFlushTimer();
  }

  /** Count events that will never be sent (after shutdown). */
  discard(count: number): void {
    this.counts.dropped += count;
  }

  /** Events dropped before they were handed over (records the pipeline dropped for want of room). */
  dropUnheld(count: number): void {
    this.counts.dropped += count;
    this.overflowed(count);
  }

  /** Room for `count` more events: the oldest held go, as when the queue is full. Returns how many went. */
  makeRoom(count: number): number {
    const before = this.counts.dropped;
    this.trim(count);
    return this.counts.dropped - before;
  }

  /** Send what is queued now, without waiting out a backoff; resolves when drained or an attempt failed. */
  async flush(): Promise<void> {
    this.retryAt = this.notBefore;
    const failures = this.failures;
    for (;;) {
      if (this.failures !== failures) return;
      if (this.requests === 0) {
        if (this.pending === 0 || Date.now() < this.retryAt) return;
        this.due = true;
        this.kick();
        if (this.requests === 0) return;
      }
      await this.completion();
    }
  }

  /** Keep delivering, with backoff, until nothing is queued or `timeoutMs` has passed; then report what is left. */
  async drain(
    timeoutMs: number,
    /** What becomes of the events left undelivered, for the message. */
    leftBehind: (left: readonly BufferedEvent[]) => string = () => 'they are lost',
    configuredMs = timeoutMs,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    // One attempt whatever the timeout, then retries while time is left.
    this.retryAt = 0;
    this.due = true;
    this.kick();
    // The first answer is awaited until the deadline (a sink that answers at once is heard even with 0).
    if (this.requests > 0) await within(this.completion(), deadline - Date.now());
    while (this.held > 0) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      if (this.requests > 0) {
        await within(this.completion(), left);
        continue;
      }
      if (this.retryAt > Date.now()) await within(undefined, Math.min(this.retryAt - Date.now(), left));
      this.retryAt = 0;
      this.due = true;
      this.kick();
      if (this.requests === 0 && this.held > 0) await within(undefined, Math.min(10, left));
    }
    for (const timer of [this.retryTimer, this.flushTimer]) clearTimeout(timer);
    if (this.kickScheduled !== undefined) clearImmediate(this.kickScheduled);
    this.kickScheduled = undefined;
    this.reportOverflow();
    const left = this.held;
    if (left > 0) {
      const undelivered = this.takeEverything();
      this.counts.failed += left;
      this.report(
        new ALMDeliveryError(
          `${left} events could not be delivered within shutdownTimeoutMs (${configuredMs} ms); ${leftBehind(undelivered)}`,
          left,
        ),
      );
    }
  }

  /** Forget everything held (answers to batches in flight are ignored from now on); returns it, oldest first. */
  private takeEverything(): BufferedEvent[] {
    const all: BufferedEvent[] = [];
    for (const batch of this.inflight) all.push(...batch);
    for (const split of this.splits) all.push(...split);
    all.push(...this.buffer.takeAll());
    this.generation++;
    this.inflight.clear();
    this.splits = [];
    this.splitEvents = 0;
    this.requests = this.inflightEvents = 0;
    this.startsInFlight.clear();
    return all;
  }

  /**
   * The process is ending now: write everything held (in flight included: it may arrive twice) with
   * the sink's synchronous write. Returns how many events could not be kept (0 when all were written).
   */
  rescue(): number {
    if (this.held === 0) return 0;
    const writeSync = this.sink.writeSync;
    if (writeSync === undefined) return this.held;
    const entries = this.takeEverything();
    try {
      writeSync.call(this.sink, entries.map(lineOf));
    } catch (error) {
      this.counts.failed += entries.length;
      this.report(error, true);
      return entries.length;
    }
    this.counts.delivered += entries.length;
    this.listener?.settled(entries);
    return 0;
  }

  /** Events waiting to be sent (not in flight). */
  private get pending(): number {
    return this.buffer.size + this.splitEvents;
  }

  private completion(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private armFlushTimer(): void {
    if (this.flushTimer !== undefined) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.due = true;
      this.kick();
    }, this.options.flushIntervalMs);
    this.flushTimer.unref();
  }

  /** Kick on the next turn of the event loop: push() may run on the agent's path. */
  private scheduleKick(): void {
    this.kickScheduled ??= detached(() =>
      setImmediate(() => {
        this.kickScheduled = undefined;
        this.kick();
      }),
    );
  }

  /** Start as many batches as allowed now. */
  private kick(): void {
    while (this.requests < this.concurrency && Date.now() >= this.retryAt) {
      const backlog = this.splits.length > 0 || this.buffer.size >= this.options.batchSize;
      // A partial batch only when nothing is in flight: it waited long enough, or a flush asked.
      if (!backlog && !(this.due && this.requests === 0 && this.buffer.size > 0)) break;
      this.serializer?.begin();
      const batch = this.nextBatch();
      if (batch.length === 0) break;
      this.start(batch, this.body?.finish(), this.lines?.finish());
    }
    if (this.buffer.size === 0) {
      this.due = false;
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    } else if (!this.due && this.requests === 0) this.armFlushTimer();
  }

  private nextBatch(): BufferedEvent[] {
    const split = this.splits.shift();
    if (split !== undefined) {
      this.splitEvents -= split.length;
      if (this.serializer !== undefined) for (const entry of split) this.serializer.append(entry);
      return split;
    }
    const starts = this.startsInFlight;
    return this.buffer.take({
      events: this.eventLimit,
      bytes: this.options.maxBatchBytes,
      body: this.serializer,
      stopAt:
        starts.size === 0
          ? undefined
          : (e) => e.run_id !== null && e.event_type !== 'run.start' && starts.has(e.run_id),
    });
  }

  private start(batch: BufferedEvent[], body: Uint8Array | undefined, lines: string[] | undefined): void {
    this.requests++;
    this.inflightEvents += batch.length;
    this.inflight.add(batch);
    for (const e of batch) {
      const runId = e.event.run_id;
      if (e.event.event_type === 'run.start' && runId !== null) {
        this.startsInFlight.set(runId, (this.startsInFlight.get(runId) ?? 0) + 1);
      }
    }
    const generation = this.generation;
    void detached(() => this.write(batch, body, lines)).then(
      () => this.complete(batch, generation, undefined),
      (error: unknown) => this.complete(batch, generation, asDeliveryError(error, batch.length)),
    );
  }

  private complete(batch: BufferedEvent[], generation: number, failure: ALMDeliveryError | undefined): void {
    try {
      if (generation !== this.generation) return; // drain() gave up on this batch while it was in flight
      this.requests--;
      this.inflightEvents -= batch.length;
      this.inflight.delete(batch);
      for (const e of batch) {
        const runId = e.event.run_id;
        if (e.event.event_type === 'run.start' && runId !== null) {
          const n = this.startsInFlight.get(runId)! - 1;
          if (n > 0) this.startsInFlight.set(runId, n);
          else this.startsInFlight.delete(runId);
        }
      }
      this.settle(batch, failure);
    } finally {
      const waiters = this.waiters;
      this.waiters = [];
      for (const resolve of waiters) resolve();
      if (generation === this.generation) this.kick();
    }
  }

  private settle(batch: BufferedEvent[], failure: ALMDeliveryError | undefined): void {
    const n = batch.length;
    if (failure === undefined) {
      this.counts.delivered += n;
      this.attempt = 0;
      this.reportedRetrying = false;
      this.reportedRejections.clear();
      this.listener?.settled(batch);
      return;
    }
    const perEvent = failure.status !== undefined && PER_EVENT_REJECTION.has(failure.status);
    if ((failure.tooLarge || perEvent) && n > 1) {
      if (failure.tooLarge) this.eventLimit = Math.min(this.eventLimit, Math.max(1, Math.floor(n / 2)));
      const half = Math.ceil(n / 2);
      this.splits.unshift(batch.slice(0, half), batch.slice(half));
      this.splitEvents += n;
      return;
    }
    if (failure.retryable) {
      this.buffer.restore(batch);
      this.trim();
      this.counts.retried += n;
      this.failures++;
      this.attempt++;
      const delay = backoffDelay(
        this.attempt,
        { initialMs: this.options.retryInitialDelayMs, maxMs: this.options.retryMaxDelayMs },
        failure.retryAfterMs,
      );
      this.retryAt = Date.now() + delay;
      this.notBefore = failure.retryAfterMs === undefined ? 0 : this.retryAt;
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.due = true;
        this.kick();
      }, delay);
      this.retryTimer.unref();
      if (!this.reportedRetrying) {
        this.reportedRetrying = true;
        this.report(
          new ALMDeliveryError(`${failure.message}; retrying with backoff, ${this.held} events kept`, n, {
            status: failure.status,
            retryable: true,
            cause: failure,
          }),
        );
      }
      return;
    }
    // Rejected for good (401/403, a single event too large or rejected, or a sink's own error): set aside.
    this.counts.failed += n;
    this.listener?.settled(batch);
    const key = failure.status === undefined ? failure.message : String(failure.status);
    if (!this.reportedRejections.has(key)) {
      this.reportedRejections.add(key);
      this.report(failure);
    }
  }

  /** The sink's write, bounded by timeoutMs, so that a sink that never answers cannot stall delivery. */
  private async write(
    batch: BufferedEvent[],
    body: Uint8Array | undefined,
    lines: string[] | undefined,
  ): Promise<void> {
    const count = batch.length;
    let written: void | Promise<void>;
    if (body !== undefined) written = this.sink.writeBody!(body, count);
    else {
      // Without a body, every entry holds its event (only a body's events are held as bytes).
      const events = new Array<ALMEvent>(count);
      for (let i = 0; i < count; i++) events[i] = batch[i]!.event as ALMEvent;
      written = this.sink.write(events, lines);
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new ALMDeliveryError(`event sink gave no answer within ${this.options.timeoutMs} ms`, count, {
              retryable: true,
            }),
          ),
        this.options.timeoutMs,
      );
      timer.unref();
    });
    try {
      await Promise.race([written, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Keep what is held within maxQueueSize events (less `reserve`), counting in-flight and split batches. */
  private trim(reserve = 0): void {
    const dropped = this.buffer.trim(this.options.maxQueueSize - this.splitEvents - this.inflightEvents - reserve);
    if (dropped.length === 0) return;
    this.counts.dropped += dropped.length;
    this.listener?.settled(dropped);
    this.overflowed(dropped.length);
  }

  /** `count` events were dropped for want of room: onError hears of it, at most once per OVERFLOW_REPORT_MS. */
  private overflowed(count: number): void {
    if (count === 0) return;
    this.overflowUnreported += count;
    if (this.overflowTimer !== undefined) return; // a report is due already (an agent that never yields drops on every call)
    const wait = this.overflowReportedAt + OVERFLOW_REPORT_MS - Date.now();
    if (wait <= 0) this.reportOverflow();
    else {
      this.overflowTimer = setTimeout(() => this.reportOverflow(), wait);
      this.overflowTimer.unref();
    }
  }

  /** Tell onError how many events were dropped since the last report, if any. */
  private reportOverflow(): void {
    clearTimeout(this.overflowTimer);
    this.overflowTimer = undefined;
    const count = this.overflowUnreported;
    if (count === 0) return;
    const now = Date.now();
    const since = Number.isFinite(this.overflowReportedAt)
      ? ` in the last ${Math.round((now - this.overflowReportedAt) / 1000)} s`
      : '';
    this.overflowReportedAt = now;
    this.overflowUnreported = 0;
    this.report(
      new ALMDeliveryError(
        `event queue full (maxQueueSize ${this.options.maxQueueSize}): dropped ${count} events${since} (${this.counts.dropped} in all), never run.start/run.end: the oldest held first, then, while the agent does not yield, new operations whole`,
        count,
      ),
    );
  }
}
