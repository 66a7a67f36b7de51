/**
 * Delivery: moves translated events from a bounded buffer to the sink, one batch at a time, off the
 * agent's path. A failure the sink marks retryable keeps the batch (same event_ids, so receivers
 * can de-duplicate) and retries it with backoff; a batch the sink rejects for good is set aside and
 * counted; a batch that is too large is split. Nothing grows without bound.
 */
import { ALMDeliveryError } from '../errors';
import type { ALMEvent } from '../events/schema';
import type { ErrorReporter } from '../report';
import { backoffDelay } from './backoff';
import { detached } from './detached';
import { EventBuffer, type BufferedEvent } from './buffer';

/** Receives batches of events. Throw an ALMDeliveryError to say whether to retry; anything else thrown is not retried. */
export interface EventSink {
  write(events: ALMEvent[]): void | Promise<void>;
  shutdown?(): Promise<void>;
}

export interface DeliveryOptions {
  batchSize: number;
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
  /** Events waiting for delivery now. */
  queued: number;
}

function describe(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return 'unprintable error';
  }
}

function asDeliveryError(error: unknown, count: number): ALMDeliveryError {
  if (error instanceof ALMDeliveryError) return error;
  return new ALMDeliveryError(`event sink failed for ${count} events: ${describe(error)}`, count, { cause: error });
}

/** Wait for `promise`, or `ms` at most; the timer is cleared either way, so it never holds the process open. */
async function within(promise: Promise<void> | undefined, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const elapsed = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, ms))));
    await (promise === undefined ? elapsed : Promise.race([promise, elapsed]));
  } finally {
    clearTimeout(timer);
  }
}

export class Delivery {
  private readonly buffer: EventBuffer;
  private readonly counts = { delivered: 0, retried: 0, failed: 0, dropped: 0 };
  private sending: Promise<void> | undefined;
  private inflight = 0;
  private attempt = 0;
  private batchLimit: number;
  private retryAt = 0;
  /** When the receiver asked (Retry-After) not to be called before; flush() respects it, unlike backoff. */
  private notBefore = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  // Reported once per burst (a burst ends with the next successful delivery).
  private reportedRetrying = false;
  private reportedOverflow = false;
  private readonly reportedRejections = new Set<string>();

  constructor(
    private readonly sink: EventSink,
    private readonly options: DeliveryOptions,
    private readonly report: ErrorReporter,
  ) {
    this.buffer = new EventBuffer(options.maxQueueSize);
    this.batchLimit = options.batchSize;
  }

  stats(): DeliveryStats {
    return { ...this.counts, queued: this.buffer.size + this.inflight };
  }

  push(events: readonly ALMEvent[]): void {
    this.noteDropped(this.buffer.push(events));
    this.kick();
  }

  /** Count events that will never be sent (after shutdown). */
  discard(count: number): void {
    this.counts.dropped += count;
  }

  /** Send what is queued now, without waiting out a backoff; resolves when drained or an attempt failed. */
  async flush(): Promise<void> {
    this.retryAt = this.notBefore;
    this.kick();
    while (this.sending !== undefined) await this.sending;
  }

  /** Keep delivering, with backoff, until nothing is queued or `timeoutMs` has passed; then report what is left. */
  async drain(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    // One attempt whatever the timeout, then retries while time is left.
    this.retryAt = 0;
    this.kick();
    while (this.buffer.size > 0 || this.sending !== undefined) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      if (this.sending !== undefined) {
        await within(this.sending, left);
        continue;
      }
      if (this.retryAt > Date.now()) await within(undefined, Math.min(this.retryAt - Date.now(), left));
      this.retryAt = 0;
      this.kick();
    }
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    const left = this.buffer.take(Number.MAX_SAFE_INTEGER).length + this.inflight;
    if (left > 0) {
      this.counts.failed += left;
      this.inflight = 0;
      this.report(
        new ALMDeliveryError(
          `${left} events could not be delivered within shutdownTimeoutMs (${timeoutMs} ms); they are lost`,
          left,
        ),
      );
    }
  }

  private kick(): void {
    if (this.sending !== undefined || this.buffer.size === 0 || Date.now() < this.retryAt) return;
    this.sending = detached(() => this.pump()).finally(() => {
      this.sending = undefined;
      if (this.buffer.size > 0 && Date.now() >= this.retryAt) this.kick();
    });
  }

  private async pump(): Promise<void> {
    while (this.buffer.size > 0 && Date.now() >= this.retryAt) {
      if (!(await this.sendOne())) return;
    }
  }

  /** One batch; false when delivery should pause (a retryable failure). */
  private async sendOne(): Promise<boolean> {
    const entries = this.buffer.take(this.batchLimit);
    const events = entries.map((e) => e.event);
    this.inflight = events.length;
    let failure: ALMDeliveryError | undefined;
    try {
      await this.write(events);
    } catch (error) {
      failure = asDeliveryError(error, events.length);
    }
    if (this.inflight === 0) return false; // drain() gave up on this batch while it was in flight
    this.inflight = 0;
    if (failure === undefined) {
      this.counts.delivered += events.length;
      this.attempt = 0;
      this.batchLimit = this.options.batchSize;
      this.reportedRetrying = false;
      this.reportedOverflow = false;
      this.reportedRejections.clear();
      return true;
    }
    if (failure.tooLarge && events.length > 1) {
      this.batchLimit = Math.max(1, Math.floor(events.length / 2));
      this.restore(entries);
      return true;
    }
    if (failure.retryable) {
      this.restore(entries);
      this.counts.retried += events.length;
      this.attempt++;
      const delay = backoffDelay(
        this.attempt,
        { initialMs: this.options.retryInitialDelayMs, maxMs: this.options.retryMaxDelayMs },
        failure.retryAfterMs,
      );
      this.retryAt = Date.now() + delay;
      this.notBefore = failure.retryAfterMs === undefined ? 0 : this.retryAt;
      if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.kick();
      }, delay);
      this.retryTimer.unref();
      if (!this.reportedRetrying) {
        this.reportedRetrying = true;
        this.report(
          new ALMDeliveryError(
            `${failure.message}; retrying with backoff, ${this.buffer.size} events kept`,
            events.length,
            {
              status: failure.status,
              retryable: true,
              cause: failure,
            },
          ),
        );
      }
      return false;
    }
    // Rejected for good (400/401/403, a single event too large, or a sink's own error): set aside.
    this.counts.failed += events.length;
    const key = failure.status === undefined ? failure.message : String(failure.status);
    if (!this.reportedRejections.has(key)) {
      this.reportedRejections.add(key);
      this.report(failure);
    }
    return true;
  }

  /** The sink's write, bounded by timeoutMs, so that a sink that never answers cannot stall delivery. */
  private async write(events: ALMEvent[]): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new ALMDeliveryError(`event sink gave no answer within ${this.options.timeoutMs} ms`, events.length, {
              retryable: true,
            }),
          ),
        this.options.timeoutMs,
      );
      timer.unref();
    });
    try {
      await Promise.race([this.sink.write(events), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private restore(entries: readonly BufferedEvent[]): void {
    this.noteDropped(this.buffer.restore(entries));
  }

  private noteDropped(dropped: number): void {
    if (dropped === 0) return;
    this.counts.dropped += dropped;
    if (this.reportedOverflow) return;
    this.reportedOverflow = true;
    this.report(
      new ALMDeliveryError(
        `event queue full (maxQueueSize ${this.options.maxQueueSize}): dropping the oldest events other than run.start/run.end`,
        dropped,
      ),
    );
  }
}
