/**
 * The bounded event buffer between translation and the sink. When it is full, the oldest events
 * that are not run.start / run.end go first (a run's boundaries are what an ALM backend can least
 * reconstruct), and every drop is counted. Order is kept: events leave in the order they arrived,
 * and batches put back for a retry return to their place.
 */
import type { ALMEvent } from '../events/schema';
import { serializeEvent } from '../events/translate';

export interface BufferedEvent {
  readonly seq: number;
  readonly event: ALMEvent;
  /** The event as JSON, once serialised (by the spool, or for a sink that sends JSON). */
  line: string | undefined;
  /** Size of `line` in UTF-8 bytes; 0 until serialised. */
  bytes: number;
  /** Opaque owner data (the spool segment holding this event), if any. */
  owner: unknown;
}

type Entry = BufferedEvent;

/** A FIFO with O(1) shift and cheap unshift after shifts. */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head]!;
    this.items[this.head++] = undefined as T;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Put items (oldest first) back in front of everything. */
  unshiftAll(items: readonly T[]): void {
    if (items.length > this.head) {
      this.items = [...items, ...this.items.slice(this.head)];
      this.head = 0;
      return;
    }
    for (let i = items.length - 1; i >= 0; i--) this.items[--this.head] = items[i]!;
  }
}

const isLifecycle = (event: ALMEvent) => event.event_type === 'run.start' || event.event_type === 'run.end';

export interface TakeLimits {
  events: number;
  /** UTF-8 bytes of the serialised events; only with `serialize`. The first event is always taken. */
  bytes: number;
  /** Serialise events that are not yet (needed for the byte limit and by JSON sinks). */
  serialize: boolean;
  /** Stop before the first event this returns true for. */
  stopAt?: (event: ALMEvent) => boolean;
}

export function serialize(entry: Entry): void {
  if (entry.line !== undefined) return;
  entry.line = serializeEvent(entry.event);
  entry.bytes = Buffer.byteLength(entry.line);
}

export class EventBuffer {
  private readonly lifecycle = new Fifo<Entry>();
  private readonly others = new Fifo<Entry>();
  private seq = 0;

  get size(): number {
    return this.lifecycle.size + this.others.size;
  }

  /** Append one event; `line` when it is already serialised. */
  add(event: ALMEvent, line: string | undefined, bytes: number, owner: unknown): Entry {
    const entry: Entry = { seq: this.seq++, event, line, bytes, owner };
    (isLifecycle(event) ? this.lifecycle : this.others).push(entry);
    return entry;
  }

  /** Take the oldest events, in order, within `limits`. */
  take(limits: TakeLimits): Entry[] {
    const out: Entry[] = [];
    let bytes = 0;
    while (out.length < limits.events) {
      const a = this.lifecycle.peek();
      const b = this.others.peek();
      if (a === undefined && b === undefined) break;
      const fifo = b === undefined || (a !== undefined && a.seq < b.seq) ? this.lifecycle : this.others;
      const next = fifo.peek()!;
      if (limits.stopAt?.(next.event)) break;
      if (limits.serialize) {
        serialize(next);
        if (out.length > 0 && bytes + next.bytes > limits.bytes) break;
        bytes += next.bytes;
      }
      fifo.shift();
      out.push(next);
    }
    return out;
  }

  /** Take everything. */
  takeAll(): Entry[] {
    return this.take({ events: Number.MAX_SAFE_INTEGER, bytes: Infinity, serialize: false });
  }

  /**
   * Return taken events (a batch to retry) to their place in front. Everything still in the buffer
   * is newer than anything taken, so only entries put back earlier need merging.
   */
  restore(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    let last = 0;
    for (const e of entries) last = Math.max(last, e.seq);
    for (const [fifo, lifecycle] of [
      [this.lifecycle, true],
      [this.others, false],
    ] as const) {
      const mine = entries.filter((e) => isLifecycle(e.event) === lifecycle);
      // Entries restored before and older than this batch's newest: merge by seq.
      const earlier: Entry[] = [];
      while (fifo.size > 0 && fifo.peek()!.seq < last) earlier.push(fifo.shift()!);
      const merged = earlier.length === 0 ? mine : [...earlier, ...mine].sort((x, y) => x.seq - y.seq);
      fifo.unshiftAll(merged);
    }
  }

  /** Drop the oldest events (other than run.start/run.end first) until at most `capacity` are held; returns what was dropped. */
  trim(capacity: number): Entry[] {
    const dropped: Entry[] = [];
    while (this.size > Math.max(0, capacity)) {
      dropped.push((this.others.size > 0 ? this.others : this.lifecycle).shift()!);
    }
    return dropped;
  }
}
