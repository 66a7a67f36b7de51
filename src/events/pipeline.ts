/**
 * The event pipeline. The hot path only appends a record to a queue; translation to events happens
 * later, off the agent's path, every `flushIntervalMs` or as soon as `batchSize` records wait, and
 * the events go to Delivery, which owns batching, retries and the bounded buffer.
 */
import type { BufferedEvent } from '../delivery/buffer';
import { Delivery, within, type DeliveryOptions, type EventSink } from '../delivery/delivery';
import { detached } from '../delivery/detached';
import { watchProcessEnd, watchProcessExit } from '../delivery/exit';
import { ALMDeliveryError } from '../errors';
import { Spool } from '../delivery/spool';
import type { ErrorReporter } from '../report';
import type { OpRecord } from './record';
import type { ALMEvent } from './schema';
import { endEvents, eventCount, serializeEvent, startEvents, type Envelope } from './translate';

export type { EventSink };

/** Which events of a record to emit. */
export const Phase = { Start: 1, End: 2, Both: 3 } as const;
export type Phase = (typeof Phase)[keyof typeof Phase];

export interface PipelineOptions extends DeliveryOptions {
  shutdownTimeoutMs: number;
  flushOnExit: boolean;
  /** Directory of the crash-safe spool; none when undefined. */
  spoolDir?: string | undefined;
  /** Most bytes the spool holds on disk (and delivery holds serialised). */
  spoolMaxBytes: number;
}

export interface PipelineStats {
  /** Events produced. */
  emitted: number;
  /** Events the sink accepted. */
  delivered: number;
  /** Event deliveries attempted again after a retryable failure. */
  retried: number;
  /** Events set aside: rejected for good by the sink, or undelivered when shutdown gave up. */
  failed: number;
  /** Events dropped because the queue was full, or emitted after shutdown. */
  dropped: number;
  /** Events waiting for delivery. */
  queued: number;
}

/** How many events `phase` of `record` makes. */
function phaseEvents(record: OpRecord, phase: Phase): number {
  return eventCount(record, (phase & Phase.Start) !== 0, (phase & Phase.End) !== 0);
}

/** Events translated before they are handed to delivery. */
const TRANSLATE_SLICE = 512;

export class EventPipeline {
  private records: OpRecord[] = [];
  private phases: Phase[] = [];
  /** Records before it were dropped (makeRoom). */
  private head = 0;
  /** Events the waiting records will make. */
  private waiting = 0;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private emitted = 0;
  private closing: Promise<void> | undefined;
  private readonly delivery: Delivery | undefined;
  private readonly spool: Spool | undefined;
  private replaying: Promise<void> | undefined;
  /** While closing: when loading what an earlier process left in the spool must stop. */
  private replayDeadline = Infinity;
  private readonly unwatchExit: () => void = () => {};
  private readonly unwatchEnd: () => void = () => {};
  private readonly onTimer = () => {
    this.timer = undefined;
    this.translate(true);
  };
  /** Events made per turn of the event loop from a backlog: a batch, or more when batches are small. */
  private readonly slice: number;
  private readonly onFull = () => {
    this.immediate = undefined;
    // A batch at a time, a turn of the event loop between: a backlog's first batch is sent (and the
    // receiver works on it) while the next is made, and the agent's thread is never held long.
    this.translate(false, this.slice);
    if (this.records.length > this.head) this.immediate ??= detached(() => setImmediate(this.onFull));
  };

  constructor(
    private readonly envelope: Envelope,
    /** null: events are not wanted (sink 'none'); records are discarded at once. */
    private readonly sink: EventSink | null,
    private readonly options: PipelineOptions,
    private readonly report: ErrorReporter,
  ) {
    this.slice = Math.max(options.maxBatchSize, TRANSLATE_SLICE);
    if (sink === null) return;
    if (options.spoolDir !== undefined) {
      // The spool holds what fits in spoolMaxBytes; delivery holds maxQueueSize events, as without one.
      const spool = new Spool(options.spoolDir, options.spoolMaxBytes, report);
      this.spool = spool;
      this.delivery = new Delivery(sink, options, report, {
        added: (entries) => spool.track(entries),
        settled: (entries) => spool.settle(entries),
      });
      this.replaying = this.replay(spool, this.delivery);
      // Files a live process finds later (an owner in another PID namespace gone meanwhile) replay after.
      spool.onClaimed = () => {
        const previous = this.replaying;
        this.replaying = previous?.then(() => this.replay(spool, this.delivery!));
      };
    } else {
      this.delivery = new Delivery(sink, options, report);
    }
    if (options.flushOnExit) this.unwatchExit = watchProcessExit(() => this.shutdown());
    if (options.flushOnExit || this.spool !== undefined) this.unwatchEnd = watchProcessEnd(() => this.rescue());
  }

  /**
   * The process is ending without a chance to wait (process.exit, an uncaught exception): everything
   * emitted so far goes, synchronously, to the spool, or to a file / stdout sink; onError hears what
   * could not be kept. The pipeline goes on as before if the process survives (an exception handled).
   */
  private rescue(): void {
    const delivery = this.delivery;
    if (delivery === undefined) return;
    this.translate(false);
    let lost: number;
    if (this.spool !== undefined) {
      this.spool.rescueSync();
      lost = delivery.held - this.spool.spooled;
    } else lost = delivery.rescue();
    if (lost > 0) {
      this.report(
        new ALMDeliveryError(
          `the process is ending: ${lost} undelivered events could not be kept (${
            this.spool === undefined
              ? 'this sink has no synchronous write; set events.spoolDir to keep them'
              : `they did not fit in spoolMaxBytes ${this.options.spoolMaxBytes}`
          })`,
          lost,
        ),
        true,
      );
    }
  }

  /**
   * Hot path: O(1), no I/O, no translation. What waits (counted in the events it will make) and what
   * is held for delivery stay within maxQueueSize, whether or not the event loop turns (an agent that
   * never yields). At the bound the oldest events held for delivery go first (an outage: the newest are
   * kept); when none are held, the agent has not yielded since the bound was reached, and a new
   * operation is dropped whole instead: never made into events, so it dies young (holding the newest
   * instead would keep every record alive, and collected, until it is pushed out).
   */
  enqueue(record: OpRecord, phase: Phase): void {
    if (this.delivery === undefined) return;
    if (this.closing !== undefined) {
      this.discard(record, phase);
      return;
    }
    const count = phaseEvents(record, phase);
    if (record.queueDropped === true) {
      // Its start was dropped at the bound: its end goes too.
      this.drop(count);
      return;
    }
    if ((phase & Phase.Start) !== 0 && record.kind !== 'run' && !this.fits(count)) {
      // At the bound, the agent not having yielded since it was reached: a new operation is dropped
      // whole, never made into events (an operation already waiting keeps its end).
      if (phase === Phase.Start) record.queueDropped = true;
      this.drop(count);
      return;
    }
    this.records.push(record);
    this.phases.push(phase);
    this.waiting += count;
    if (this.waiting + this.delivery.held > this.options.maxQueueSize) {
      this.makeRoom();
    } else if (this.records.length - this.head >= this.options.batchSize || this.spool !== undefined) {
      // With a spool, records become events (and go to disk) on the next turn of the event loop.
      this.immediate ??= detached(() => setImmediate(this.onFull));
    } else if (this.timer === undefined) {
      this.timer = detached(() => setTimeout(this.onTimer, this.options.flushIntervalMs));
      this.timer.unref();
    }
  }

  /** Room for `count` more events, once the oldest events held for delivery went if need be. */
  private fits(count: number): boolean {
    const delivery = this.delivery!;
    const over = this.waiting + delivery.held + count - this.options.maxQueueSize;
    if (over <= 0) return true;
    return delivery.held > 0 && delivery.makeRoom(over) >= over;
  }

  /** `count` events of a record are dropped for want of room: counted as emitted and dropped. */
  private drop(count: number): void {
    this.emitted += count;
    this.delivery!.dropUnheld(count);
  }

  /**
   * What is held (records waiting, at most three events each, and events held for delivery) went past
   * maxQueueSize with an end (of an operation already waiting) or a run's record: events held for
   * delivery go first, then the oldest waiting records other than a run's, their operations whole
   * (counted as emitted and dropped). Records are not turned into events here: they are cheaper to hold.
   */
  private makeRoom(): void {
    const delivery = this.delivery!;
    const records = this.records;
    const phases = this.phases;
    let over = this.waiting + delivery.held - this.options.maxQueueSize;
    if (over > 0 && delivery.held > 0) over -= delivery.makeRoom(over);
    for (let i = this.head; over > 0 && i < records.length;) {
      const record = records[i]!;
      if (record.kind === 'run') {
        i++;
        continue;
      }
      const phase = phases[i]!;
      const count = phaseEvents(record, phase);
      // Drop it: the runs' records before it move up one place, and the head past it.
      for (let j = i; j > this.head; j--) {
        records[j] = records[j - 1]!;
        phases[j] = phases[j - 1]!;
      }
      records[this.head] = undefined as unknown as OpRecord;
      this.head++;
      i++;
      if (phase === Phase.Start) record.queueDropped = true; // its end follows it out
      this.waiting -= count;
      this.drop(count);
      over -= count;
    }
    this.compact();
    // Only runs' records left: they become events (the buffer keeps run.start/run.end longest).
    if (over > 0) this.translate(false);
  }

  /**
   * Drop a record's events, counted as emitted and dropped (an operation of a run that has ended, or
   * after shutdown): counted, not made.
   */
  discard(record: OpRecord, phase: Phase): void {
    if (this.delivery === undefined) return;
    const count = phaseEvents(record, phase);
    this.emitted += count;
    this.delivery.discard(count);
  }

  stats(): PipelineStats {
    this.translate(false); // so that what is still waiting counts as queued
    const delivery = this.delivery?.stats() ?? { delivered: 0, retried: 0, failed: 0, dropped: 0, queued: 0 };
    return { emitted: this.emitted, ...delivery };
  }

  /** Deliver everything queued so far; resolves when delivered, or when an attempt failed (the events stay queued for retry). */
  async flush(): Promise<void> {
    // A backlog goes out as it is made, a slice per turn of the event loop: the sink takes the first
    // batch while the next is made. What is queued later is left to the usual cadence.
    for (let left = this.waiting; left > 0 && this.closing === undefined;) {
      const made = this.translate(false, Math.min(left, this.slice));
      left -= made;
      if (made === 0 || left <= 0) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    await this.delivery?.flush();
  }

  /**
   * Deliver everything, retrying until `shutdownTimeoutMs`, then stop. Later records are counted as
   * dropped. Idempotent.
   */
  shutdown(): Promise<void> {
    this.closing ??= this.close();
    return this.closing;
  }

  private async close(): Promise<void> {
    this.translate(false);
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    if (this.delivery === undefined) {
      this.unwatchExit();
      return;
    }
    // Delivery's timers are unref'd: without this one, a sink whose promise never settles would let
    // the process exit in the middle of `await alm.shutdown()`. Everything below is bounded by the deadline.
    const keepAlive = setInterval(() => {}, 1 << 30);
    try {
      await this.closeWithin(Date.now() + this.options.shutdownTimeoutMs);
    } finally {
      clearInterval(keepAlive);
      this.unwatchExit();
      this.unwatchEnd();
    }
  }

  /** What becomes of undelivered events at shutdown with a spool: on disk, or held in memory only. */
  private leftInSpool(spool: Spool, left: readonly BufferedEvent[]): string {
    let memoryOnly = 0;
    for (const entry of left) if (entry.owner === undefined) memoryOnly++;
    const kept = `stay in the spool (${spool.dir}) for the next process on it`;
    if (memoryOnly === 0) return `they ${kept}`;
    return (
      `${left.length - memoryOnly} ${kept}; ${memoryOnly} had no room on disk and are lost ` +
      '(run.start / run.end among them are written if room can be made)'
    );
  }

  private async closeWithin(deadline: number): Promise<void> {
    const delivery = this.delivery!;
    this.replayDeadline = deadline;
    await this.replaying;
    await delivery.drain(
      Math.max(0, deadline - Date.now()),
      this.spool === undefined ? undefined : (left) => this.leftInSpool(this.spool!, left),
      this.options.shutdownTimeoutMs,
    );
    try {
      await this.spool?.close();
    } catch (error) {
      this.report(error);
    }
    const sink = this.sink;
    if (sink?.shutdown === undefined) return;
    let done = false;
    try {
      await within(
        sink.shutdown().then(() => void (done = true)),
        Math.max(0, deadline - Date.now()),
      );
      if (!done) this.report(new Error('alm-otel: the event sink did not finish closing within shutdownTimeoutMs'));
    } catch (error) {
      this.report(error);
    }
  }

  private appendEvents(record: OpRecord, phase: Phase, out: ALMEvent[]): void {
    if (phase & Phase.Start) startEvents(record, this.envelope, out);
    if (phase & Phase.End) endEvents(record, this.envelope, out);
  }

  /**
   * Turn queued records into events and hand them to delivery (`urgent`: they waited flushIntervalMs),
   * the oldest first, until at least `most` events were made (all of them by default). Returns how
   * many were made (dropped ones included).
   */
  private translate(urgent: boolean, most = Infinity): number {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.records.length === this.head || this.delivery === undefined) return 0;
    const records = this.records;
    const phases = this.phases;
    const from = this.head;
    // The slice leaves the queue before anything runs that could queue more (onError, the sink).
    let to = from;
    let made = 0;
    for (; to < records.length && made < most; to++) made += phaseEvents(records[to]!, phases[to]!);
    if (to === records.length) {
      this.records = [];
      this.phases = [];
      this.head = 0;
      this.waiting = 0;
    } else {
      this.head = to;
      this.waiting -= made;
      this.compact();
    }
    // Handed over in slices: delivery holds events as JSON bytes (http, file, stdout), so a slice's
    // objects die young rather than all of a full queue's living through a collection.
    let events: ALMEvent[] = [];
    for (let i = from; i < to; i++) {
      const record = records[i]!;
      const phase = phases[i]!;
      records[i] = undefined as unknown as OpRecord;
      if (record.queueDropped === true) {
        // The end of an operation whose start made room for others (makeRoom).
        this.drop(phaseEvents(record, phase));
        continue;
      }
      try {
        this.appendEvents(record, phase, events);
      } catch (error) {
        this.report(error);
      }
      if (events.length >= TRANSLATE_SLICE) {
        this.hand(events, urgent);
        events = [];
      }
    }
    this.hand(events, urgent);
    return made;
  }

  /** Let go of the slots before `head` once they are most of the queue's arrays. */
  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.records.length) {
      this.records = this.records.slice(this.head);
      this.phases = this.phases.slice(this.head);
      this.head = 0;
    }
  }

  private hand(events: ALMEvent[], urgent: boolean): void {
    if (this.delivery === undefined) return;
    this.emitted += events.length;
    if (this.spool === undefined || events.length === 0) {
      this.delivery.push(events, urgent);
      return;
    }
    let lines: string[];
    try {
      lines = events.map(serializeEvent);
    } catch (error) {
      this.report(error);
      this.delivery.push(events, urgent);
      return;
    }
    this.delivery.push(events, urgent, lines, this.spool.append(lines));
  }

  /** Deliver what an earlier process left in the spool, one segment at a time, as room allows. */
  private async replay(spool: Spool, delivery: Delivery): Promise<void> {
    try {
      for await (const { segment, events, lines } of spool.replay()) {
        while (delivery.held > 0 && delivery.held + events.length > this.options.maxQueueSize) {
          if (Date.now() >= this.replayDeadline) return; // the rest stays on disk for the next process
          await new Promise((resolve) => setTimeout(resolve, 20).unref());
        }
        this.emitted += events.length;
        delivery.push(events, true, lines, segment);
      }
    } catch (error) {
      this.report(error);
    }
  }
}
