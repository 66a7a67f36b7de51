/**
 * Hands each batch to a user function. The function is the user's own code, and a throw is usually
 * transient (a broker busy, a connection lost): anything it throws or rejects with is retried with
 * backoff, like an http 5xx. To reject a batch for good, throw an `ALMDeliveryError` with
 * `retryable: false` (the batch is set aside); with `status: 400` or `422` as well, delivery splits
 * the batch to set aside only the events that are rejected one by one.
 */
import type { EventSinkFunction } from '../config/schema';
import { describeError, type EventSink } from '../delivery/delivery';
import { ALMDeliveryError } from '../errors';
import type { ALMEvent } from '../events/schema';

export class FunctionSink implements EventSink {
  constructor(private readonly fn: EventSinkFunction) {}

  async write(events: ALMEvent[]): Promise<void> {
    try {
      await this.fn(events);
    } catch (error) {
      if (error instanceof ALMDeliveryError) throw error;
      throw new ALMDeliveryError(
        `event sink function failed for ${events.length} events: ${describeError(error)}`,
        events.length,
        {
          retryable: true,
          cause: error,
        },
      );
    }
  }
}
