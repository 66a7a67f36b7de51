/**
 * The bounded event buffer between translation and the sink. When it is full, the oldest events
 * that are not run.start / run.end go first (a run's boundaries are what an ALM backend can least
 * reconstruct), and every drop is counted. Order is kept: events leave in the order they arrived,
 * and batches put back for a retry return to their place.
 */
import type { ALMEvent } from '../events/schema';
import { serializeEvent } from '../events/translate';

/** What delivery needs of an event it holds as JSON bytes only. */
export type EventHead = Pick<ALMEvent, 'event_type' | 'run_id'>;

export interface BufferedEvent {
  readonly seq: number;
  /** The event; only its type and run when it is held as JSON bytes (`chunk`). */
  readonly event: ALMEvent | EventHead;
  /** The event as JSON, when it came serialised (the spool's). */
  line: string | undefined;
  /** Size of its JSON in UTF-8 bytes (`line`'s, or in `chunk`); 0 until serialised. */
  bytes: number;
  /** Opaque owner data (the spool segment holding this event), if any. */
  owner: unknown;
  /** The event's JSON is `chunk[start, start + bytes)`, followed by the sink's separator. */
  readonly chunk: Buffer | undefined;
  readonly start: number;
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

const isLifecycle = (event: EventHead) => event.event_type === 'run.start' || event.event_type === 'run.end';

export interface TakeLimits {
  events: number;
  /** UTF-8 bytes of the serialised events; only with `body`. The first event is always taken. */
  bytes: number;
  /** Serialise each event taken into this (for sinks that send JSON; needed for the byte limit). */
  body?: BatchSerializer;
  /** Stop before the first event this returns true for. */
  stopAt?: (event: EventHead) => boolean;
}

/** How a sink that sends JSON frames a batch: `head`, the events separated by `separator`, `tail`. */
export interface Framing {
  readonly head: string;
  readonly separator: string;
  readonly tail: string;
}

/** An event's JSON: the line it came with (the spool's), its bytes, or serialised now (not kept). */
export function lineOf(entry: Entry): string {
  if (entry.line !== undefined) return entry.line;
  if (entry.chunk !== undefined) return entry.chunk.toString('utf8', entry.start, entry.start + entry.bytes);
  return serializeEvent(entry.event as ALMEvent);
}

/** Largest scratch buffer kept between uses (the default maxBatchBytes needs at most 3 MiB). */
const SCRATCH_KEPT = 8 << 20;

/**
 * A reusable buffer that JSON is written into as UTF-8, then copied out once at its exact size: no
 * per-event string outlives its write (they die young and cost the collector nothing), no join,
 * no second encoding.
 */
export class Scratch {
  buf = Buffer.allocUnsafeSlow(64 * 1024);
  at = 0;

  /** Room for `more` bytes after `at`. */
  reserve(more: number): void {
    if (this.at + more <= this.buf.length) return;
    const larger = Buffer.allocUnsafeSlow(Math.max(2 * this.buf.length, this.at + more));
    this.buf.copy(larger, 0, 0, this.at);
    this.buf = larger;
  }

  /** Write `text` at `at` (at or after this.at; `at` itself does not move); returns its UTF-8 bytes. */
  writeAt(text: string, at: number): number {
    // A UTF-16 code unit is at most 3 bytes of UTF-8: with that much room, write() never truncates.
    this.reserve(at - this.at + text.length * 3);
    return this.buf.write(text, at);
  }

  /** What was written since 0, in a buffer of its own; the scratch is ready for reuse. */
  take(): Buffer {
    const out = Buffer.allocUnsafeSlow(this.at);
    this.buf.copy(out, 0, 0, this.at);
    // A huge event grew the scratch buffer: let it go rather than hold that much for good.
    if (this.buf.length > SCRATCH_KEPT) this.buf = Buffer.allocUnsafeSlow(64 * 1024);
    this.at = 0;
    return out;
  }
}

/** Serialises a batch's events as they are taken. */
export interface BatchSerializer {
  begin(): void;
  /**
   * Add an entry's JSON; returns its UTF-8 bytes, or -1 (nothing added) when the batch already holds
   * events and `room` bytes are not enough for it.
   */
  append(entry: BufferedEvent, room?: number): number;
}

/** The batch as one JSON text per event, for sinks that need them apart (otlp: one log record each). */
export class LineCollector implements BatchSerializer {
  lines: string[] = [];

  begin(): void {
    this.lines = [];
  }

  append(entry: Entry, room = Infinity): number {
    const line = lineOf(entry);
    const bytes = entry.line === undefined ? Buffer.byteLength(line) : entry.bytes;
    if (this.lines.length > 0 && bytes > room) return -1;
    this.lines.push(line);
    return bytes;
  }

  finish(): string[] {
    return this.lines;
  }
}

/**
 * Builds a batch's body in the scratch buffer, framed as the sink says. Events held as bytes are
 * copied, a run of neighbours in one chunk (their separators included) in one copy; others are
 * serialised straight into it.
 */
export class BodyBuilder implements BatchSerializer {
  private readonly head: Buffer;
  private readonly separator: Buffer;
  private readonly tail: Buffer;
  private count = 0;
  /** A run of neighbouring events in one chunk, not copied yet: `chunk[runStart, runEnd)`. */
  private runChunk: Buffer | undefined;
  private runStart = 0;
  private runEnd = 0;

  constructor(
    framing: Framing,
    private readonly scratch: Scratch,
  ) {
    this.head = Buffer.from(framing.head);
    this.separator = Buffer.from(framing.separator);
    this.tail = Buffer.from(framing.tail);
  }

  begin(): void {
    this.scratch.at = 0;
    this.put(this.head);
    this.count = 0;
    this.runChunk = undefined;
  }

  append(entry: Entry, room = Infinity): number {
    const chunk = entry.chunk;
    if (chunk !== undefined) {
      if (this.count > 0 && entry.bytes > room) return -1;
      if (this.count > 0 && chunk === this.runChunk && entry.start === this.runEnd + this.separator.length) {
        this.runEnd = entry.start + entry.bytes;
      } else {
        this.endRun();
        if (this.count > 0) this.put(this.separator);
        this.runChunk = chunk;
        this.runStart = entry.start;
        this.runEnd = entry.start + entry.bytes;
      }
      this.count++;
      return entry.bytes;
    }
    this.endRun();
    const scratch = this.scratch;
    const at = this.count === 0 ? scratch.at : scratch.at + this.separator.length;
    const bytes = scratch.writeAt(lineOf(entry), at);
    if (this.count > 0 && bytes > room) return -1;
    if (this.count > 0) this.separator.copy(scratch.buf, scratch.at);
    scratch.at = at + bytes;
    this.count++;
    return bytes;
  }

  /** The body, in a buffer of its own. */
  finish(): Buffer {
    this.endRun();
    this.put(this.tail);
    return this.scratch.take();
  }

  /**
   * Events as bytes for this sink: each one's JSON followed by the separator, in one chunk, so that
   * neighbours go into a body in one copy. Pushes each event's start and bytes to `spans`; start -1
   * for an event that stays an object: run.start and run.end (the drop policy keeps them longest:
   * they must not keep a whole chunk alive) and an event that cannot be serialised (it fails again
   * when taken).
   */
  encode(events: readonly ALMEvent[], spans: number[]): Buffer {
    const scratch = this.scratch;
    scratch.at = 0;
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      if (isLifecycle(event)) {
        spans.push(-1, 0);
        continue;
      }
      let line: string;
      try {
        line = serializeEvent(event);
      } catch {
        spans.push(-1, 0);
        continue;
      }
      const bytes = scratch.writeAt(line, scratch.at);
      spans.push(scratch.at, bytes);
      scratch.at += bytes;
      this.put(this.separator);
    }
    return scratch.take();
  }

  /** Copy `bytes[start, end)` to the end of the scratch buffer. */
  private put(bytes: Buffer, start = 0, end = bytes.length): void {
    this.scratch.reserve(end - start);
    this.scratch.at += bytes.copy(this.scratch.buf, this.scratch.at, start, end);
  }

  private endRun(): void {
    const chunk = this.runChunk;
    if (chunk === undefined) return;
    this.runChunk = undefined;
    this.put(chunk, this.runStart, this.runEnd);
  }
}

export class EventBuffer {
  private readonly lifecycle = new Fifo<Entry>();
  private readonly others = new Fifo<Entry>();
  private seq = 0;

  get size(): number {
    return this.lifecycle.size + this.others.size;
  }

  /** Append one event; `line` when it is already serialised, `chunk` when it is held as bytes there. */
  add(
    event: ALMEvent | EventHead,
    line: string | undefined,
    bytes: number,
    owner: unknown,
    chunk: Buffer | undefined = undefined,
    start = 0,
  ): Entry {
    const entry: Entry = { seq: this.seq++, event, line, bytes, owner, chunk, start };
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
      if (limits.body !== undefined) {
        const added = limits.body.append(next, limits.bytes - bytes);
        if (added < 0) break;
        bytes += added;
      }
      fifo.shift();
      out.push(next);
    }
    return out;
  }

  /** Take everything. */
  takeAll(): Entry[] {
    return this.take({ events: Number.MAX_SAFE_INTEGER, bytes: Infinity });
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
