/**
 * The bounded event buffer between translation and the sink. When it is full, the oldest events
 * that are not run.start / run.end go first (a run's boundaries are what an ALM backend can least
 * reconstruct), and every drop is counted. Order is kept: events leave in the order they arrived.
 */
import type { ALMEvent } from '../events/schema';

interface Entry {
  readonly seq: number;
  readonly event: ALMEvent;
}

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
    for (let i = items.length - 1; i >= 0; i--) {
      if (this.head > 0) this.items[--this.head] = items[i]!;
      else this.items.unshift(items[i]!);
    }
  }
}

const isLifecycle = (event: ALMEvent) => event.event_type === 'run.start' || event.event_type === 'run.end';

export class EventBuffer {
  private readonly lifecycle = new Fifo<Entry>();
  private readonly others = new Fifo<Entry>();
  private seq = 0;

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.lifecycle.size + this.others.size;
  }

  /** Append events; returns how many events were dropped to stay within capacity. */
  push(events: readonly ALMEvent[]): number {
    for (const event of events) (isLifecycle(event) ? this.lifecycle : this.others).push({ seq: this.seq++, event });
    return this.trim();
  }

  /** Take up to `n` of the oldest events, in order. */
  take(n: number): Entry[] {
    const out: Entry[] = [];
    while (out.length < n) {
      const a = this.lifecycle.peek();
      const b = this.others.peek();
      if (a === undefined && b === undefined) break;
      out.push((b === undefined || (a !== undefined && a.seq < b.seq) ? this.lifecycle : this.others).shift()!);
    }
    return out;
  }

  /** Return taken events (a batch to retry) to the front; returns how many had to be dropped. */
  restore(entries: readonly Entry[]): number {
    this.lifecycle.unshiftAll(entries.filter((e) => isLifecycle(e.event)));
    this.others.unshiftAll(entries.filter((e) => !isLifecycle(e.event)));
    return this.trim();
  }

  private trim(): number {
    let dropped = 0;
    while (this.size > this.capacity) {
      (this.others.size > 0 ? this.others : this.lifecycle).shift();
      dropped++;
    }
    return dropped;
  }
}

export type BufferedEvent = Entry;
