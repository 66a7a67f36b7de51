/** Hands each batch to a user function. */
import type { EventSinkFunction } from '../config/schema';
import type { EventSink } from '../delivery/delivery';
import type { ALMEvent } from '../events/schema';

export class FunctionSink implements EventSink {
  constructor(private readonly fn: EventSinkFunction) {}

  write(events: ALMEvent[]): void | Promise<void> {
    return this.fn(events);
  }
}
