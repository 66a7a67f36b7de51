/**
 * The event pipeline: the hot path only appends a record to a queue; translation to events and
 * delivery to the sink happen later, off the agent's path, in batches of `batchSize` events or
 * every `flushIntervalMs`, whichever comes first.
 */
import type { ErrorReporter } from '../report';
import { ALMDeliveryError } from '../errors';
import type { OpRecord } from './record';
import type { ALMEvent } from './schema';
import { endEvents, startEvents, type Envelope } from './translate';

/** Which events of a record to emit. */
export const Phase = { Start: 1, End: 2, Both: 3 } as const;
export type Phase = (typeof Phase)[keyof typeof Phase];

/** Receives batches of events. May throw or reject: the pipeline reports it and carries on. */
export interface EventSink {
  write(events: ALMEvent[]): void | Promise<void>;
  shutdown?(): Promise<void>;
}

export interface PipelineOptions {
  batchSize: number;
  flushIntervalMs: number;
}

export interface PipelineStats {
  /** Events produced for the sink. */
  emitted: number;
  /** Events the sink accepted. */
  delivered: number;
  /** Events the sink failed to take. */
  failed: number;
  /** Events that arrived after shutdown. */
  dropped: number;
}

export class EventPipeline {
  private records: OpRecord[] = [];
  private phases: Phase[] = [];
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private delivering: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly counts: PipelineStats = { emitted: 0, delivered: 0, failed: 0, dropped: 0 };
  private readonly onTimer = () => {
    this.timer = undefined;
    void this.flush();
  };
  private readonly onFull = () => {
    this.immediate = undefined;
    void this.flush();
  };
  private readonly beforeExit = () => void this.flush();

  constructor(
    private readonly envelope: Envelope,
    /** null: events are not wanted (sink 'none'); records are discarded at once. */
    private readonly sink: EventSink | null,
    private readonly options: PipelineOptions,
    private readonly report: ErrorReporter,
  ) {
    // Timers are unref'd so alm-otel never keeps a process alive; this hook delivers what is
    // still queued when the event loop drains, so a script that just ends loses nothing.
    if (sink !== null) process.on('beforeExit', this.beforeExit);
  }

  /** Hot path: O(1), no I/O, no translation. */
  enqueue(record: OpRecord, phase: Phase): void {
    if (this.sink === null) return;
    if (this.closed) {
      const events: ALMEvent[] = [];
      this.appendEvents(record, phase, events);
      this.counts.dropped += events.length;
      return;
    }
    this.records.push(record);
    this.phases.push(phase);
    if (this.records.length >= this.options.batchSize) {
      this.immediate ??= setImmediate(this.onFull);
    } else if (this.timer === undefined) {
      this.timer = setTimeout(this.onTimer, this.options.flushIntervalMs);
      this.timer.unref();
    }
  }

  stats(): PipelineStats {
    return { ...this.counts };
  }

  /** Translate and deliver everything queued so far; resolves when the sink has taken it (or failed). */
  flush(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.records.length === 0) return this.delivering;
    const events = this.translate();
    this.delivering = this.delivering.then(() => this.deliver(events));
    return this.delivering;
  }

  async shutdown(): Promise<void> {
    if (this.closed) return this.delivering;
    await this.flush();
    this.closed = true;
    process.off('beforeExit', this.beforeExit);
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    try {
      await this.sink?.shutdown?.();
    } catch (error) {
      this.report(error);
    }
  }

  private appendEvents(record: OpRecord, phase: Phase, out: ALMEvent[]): void {
    if (phase & Phase.Start) startEvents(record, this.envelope, out);
    if (phase & Phase.End) endEvents(record, this.envelope, out);
  }

  private translate(): ALMEvent[] {
    const records = this.records;
    const phases = this.phases;
    this.records = [];
    this.phases = [];
    const events: ALMEvent[] = [];
    for (let i = 0; i < records.length; i++) {
      try {
        this.appendEvents(records[i]!, phases[i]!, events);
      } catch (error) {
        this.report(error);
      }
    }
    this.counts.emitted += events.length;
    return events;
  }

  private async deliver(events: ALMEvent[]): Promise<void> {
    const size = this.options.batchSize;
    for (let i = 0; i < events.length; i += size) {
      const batch = events.slice(i, i + size);
      try {
        await this.sink!.write(batch);
        this.counts.delivered += batch.length;
      } catch (error) {
        this.counts.failed += batch.length;
        this.report(
          error instanceof ALMDeliveryError
            ? error
            : new ALMDeliveryError(`event sink failed for ${batch.length} events: ${describe(error)}`, batch.length, {
                cause: error,
              }),
        );
      }
    }
  }
}

function describe(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return 'unprintable error';
  }
}
