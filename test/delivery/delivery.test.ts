import { randomUUID } from 'node:crypto';
import { ALM, ALMDeliveryError, type ALMEvent } from '../../src';
import { backoffDelay, parseRetryAfter } from '../../src/delivery/backoff';
import { EventBuffer } from '../../src/delivery/buffer';

function event(type: ALMEvent['event_type'], n: number): ALMEvent {
  return { event_type: type, event_id: randomUUID(), metadata: { n } } as unknown as ALMEvent;
}
const label = (e: Pick<ALMEvent, 'event_type'>) => `${e.event_type}:${((e as ALMEvent).metadata as { n: number }).n}`;

/** A buffer of `capacity` events: push adds and trims, returning how many were dropped. */
function bounded(capacity: number) {
  const buffer = new EventBuffer();
  const all = { events: Number.MAX_SAFE_INTEGER, bytes: Infinity };
  return {
    push(events: ALMEvent[]): number {
      for (const e of events) buffer.add(e, undefined, 0, undefined);
      return buffer.trim(capacity).length;
    },
    take: (n: number) => buffer.take({ ...all, events: n }),
    restore: (entries: ReturnType<EventBuffer['take']>) => buffer.restore(entries),
  };
}

describe('EventBuffer', () => {
  it('keeps order across both queues, and after a batch is put back', () => {
    const buffer = bounded(100);
    buffer.push([event('run.start', 1), event('tool.request', 2), event('run.end', 3), event('task.start', 4)]);
    const batch = buffer.take(3);
    expect(batch.map((e) => label(e.event))).toEqual(['run.start:1', 'tool.request:2', 'run.end:3']);
    buffer.push([event('handoff', 5)]);
    buffer.restore(batch);
    expect(buffer.take(10).map((e) => label(e.event))).toEqual([
      'run.start:1',
      'tool.request:2',
      'run.end:3',
      'task.start:4',
      'handoff:5',
    ]);
  });

  it('batches put back in any order (concurrent retries) return to their places', () => {
    const buffer = bounded(100);
    buffer.push([1, 2, 3, 4, 5, 6, 7].map((n) => event(n % 3 === 0 ? 'run.start' : 'tool.request', n)));
    const first = buffer.take(2);
    const second = buffer.take(3);
    buffer.restore(second);
    buffer.restore(first);
    expect(buffer.take(10).map((e) => ((e.event as ALMEvent).metadata as { n: number }).n)).toEqual([
      1, 2, 3, 4, 5, 6, 7,
    ]);
    buffer.push([1, 2, 3, 4, 5, 6].map((n) => event(n % 2 === 0 ? 'run.end' : 'handoff', n)));
    const a = buffer.take(2);
    const b = buffer.take(2);
    buffer.restore(a);
    buffer.restore(b);
    expect(buffer.take(10).map((e) => ((e.event as ALMEvent).metadata as { n: number }).n)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('drops the oldest non-lifecycle events first, then the oldest lifecycle ones', () => {
    const buffer = bounded(3);
    expect(
      buffer.push([event('run.start', 1), event('tool.request', 2), event('tool.response', 3), event('run.end', 4)]),
    ).toBe(1);
    expect(buffer.take(10).map((e) => label(e.event))).toEqual(['run.start:1', 'tool.response:3', 'run.end:4']);
    expect(buffer.push([event('run.start', 5), event('run.end', 6), event('run.start', 7), event('run.end', 8)])).toBe(
      1,
    );
    expect(buffer.take(10).map((e) => label(e.event))).toEqual(['run.end:6', 'run.start:7', 'run.end:8']);
  });
});

describe('backoff', () => {
  it('grows exponentially with jitter, within bounds', () => {
    const options = { initialMs: 100, maxMs: 1000 };
    for (let attempt = 1; attempt <= 10; attempt++) {
      const step = Math.min(1000, 100 * 2 ** (attempt - 1));
      const delay = backoffDelay(attempt, options);
      expect(delay).toBeGreaterThanOrEqual(step / 2);
      expect(delay).toBeLessThanOrEqual(step);
    }
  });

  it('honours Retry-After up to the maximum', () => {
    expect(backoffDelay(1, { initialMs: 10, maxMs: 5000 }, 2000)).toBe(2000);
    expect(backoffDelay(1, { initialMs: 10, maxMs: 5000 }, 60_000)).toBe(5000);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-11-21T12:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Sat, 21 Nov 2026 12:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});

describe('custom sinks', () => {
  it('a function sink can ask for a retry by throwing a retryable ALMDeliveryError', async () => {
    const received: ALMEvent[] = [];
    let calls = 0;
    const alm = new ALM({
      agentId: 'custom',
      events: {
        flushOnExit: false,
        retryInitialDelayMs: 5,
        retryMaxDelayMs: 20,
        sink: (batch) => {
          if (++calls <= 2) throw new ALMDeliveryError('broker busy', batch.length, { retryable: true });
          received.push(...batch);
        },
      },
      onError: () => {},
    });
    const t = alm.tool('t', () => 1);
    alm.run(() => t());
    await alm.shutdown();
    expect(received.map((e) => e.event_type)).toEqual([
      'run.start',
      'tool.request',
      'policy.decision',
      'tool.response',
      'run.end',
    ]);
    expect(alm.stats()).toMatchObject({ delivered: 5, retried: 10, failed: 0 });
  });
});

describe('overflow reporting', () => {
  it('tells onError about drops at most once per OVERFLOW_REPORT_MS, with counts that add up, not once per burst', async () => {
    const errors: ALMDeliveryError[] = [];
    const alm = new ALM({
      agentId: 'overloaded',
      events: { sink: () => {}, maxQueueSize: 20, flushOnExit: false },
      onError: (error) => errors.push(error as ALMDeliveryError),
    });
    const t = alm.tool('t', () => 1);
    // 30 bursts, each overflowing the queue, each followed by a successful delivery.
    for (let burst = 0; burst < 30; burst++) {
      alm.run(() => {
        for (let i = 0; i < 40; i++) t();
      });
      await alm.flush();
    }
    const during = errors.length;
    await alm.shutdown();
    const stats = alm.stats();
    expect(stats.dropped).toBeGreaterThan(30 * 40);
    // Once at the first drop; the rest is told (with its count) at shutdown, as the 20 s have not passed.
    expect(during).toBe(1);
    expect(errors).toHaveLength(2);
    expect(errors.every((e) => e.message.startsWith('event queue full (maxQueueSize 20): dropped '))).toBe(true);
    expect(errors[1]!.message).toMatch(/dropped \d+ events in the last \d+ s \(\d+ in all\)/);
    expect(errors.reduce((n, e) => n + e.eventCount, 0)).toBe(stats.dropped);
    expect(stats.emitted).toBe(stats.delivered + stats.failed + stats.dropped + stats.queued);
  });
});
