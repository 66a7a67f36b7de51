import { randomUUID } from 'node:crypto';
import { ALM, ALMDeliveryError, type ALMEvent } from '../../src';
import { backoffDelay, parseRetryAfter } from '../../src/delivery/backoff';
import { EventBuffer } from '../../src/delivery/buffer';
import { Delivery, type DeliveryOptions, type EventSink } from '../../src/delivery/delivery';

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

describe('bodies built from events held as JSON bytes', () => {
  /** Real events (runs, tasks, tool calls with non-ASCII arguments and results), as an ALM makes them. */
  async function realEvents(): Promise<ALMEvent[]> {
    const events: ALMEvent[] = [];
    const alm = new ALM({ agentId: 'agent-é', events: { sink: (b) => void events.push(...b), flushOnExit: false } });
    const echo = alm.tool('echo', (args: { text: string }) => ({ said: args.text }));
    const inputs = ['plain', 'café', '日本語', 'emoji 😀', 'quote " and \\ backslash', 'x'.repeat(300)];
    for (let r = 0; r < 3; r++) {
      await alm.run({ purpose: `run ${r} ✓` }, async () => {
        for (const text of inputs) echo({ text });
        await alm.task({ type: 't' }, () => echo({ text: 'in a task' }));
      });
    }
    await alm.shutdown();
    return events;
  }

  it('are exactly the events as JSON.stringify writes them, across byte limits, retries and 413 splits', async () => {
    const events = await realEvents();
    const accepted: Buffer[] = [];
    let calls = 0;
    const sink: EventSink = {
      framing: { head: '[', separator: ',', tail: ']' },
      write: () => {
        throw new Error('delivery must hand this sink bodies');
      },
      writeBody(body: Uint8Array, count: number) {
        calls++;
        if (calls === 2) throw new ALMDeliveryError('try again', count, { retryable: true });
        if (calls === 4 && count > 1) throw new ALMDeliveryError('too large', count, { status: 413, tooLarge: true });
        accepted.push(Buffer.from(body));
      },
      concurrent: true,
    };
    const options: DeliveryOptions = {
      batchSize: 5,
      maxBatchSize: 9,
      maxBatchBytes: 2000,
      maxInFlight: 2,
      flushIntervalMs: 1,
      timeoutMs: 1000,
      maxQueueSize: 10_000,
      retryInitialDelayMs: 1,
      retryMaxDelayMs: 1,
    };
    const errors: unknown[] = [];
    const delivery = new Delivery(sink, options, (e) => errors.push(e));
    delivery.push(events.slice(0, 17));
    delivery.push(events.slice(17));
    for (let i = 0; i < 100 && delivery.held > 0; i++) {
      await delivery.flush();
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    expect(delivery.stats()).toMatchObject({ delivered: events.length, failed: 0, dropped: 0, queued: 0 });
    expect(calls).toBeGreaterThan(4);
    const lineOf = new Map(events.map((e) => [e.event_id, JSON.stringify(e)]));
    // Every body is exactly its events as JSON.stringify writes them, framed, byte for byte; together
    // they are every event once (with two batches in flight, a retried batch may arrive after a later one).
    const delivered: string[] = [];
    for (const body of accepted) {
      const ids = (JSON.parse(body.toString('utf8')) as ALMEvent[]).map((e) => e.event_id);
      delivered.push(...ids);
      expect(body).toEqual(Buffer.from(`[${ids.map((id) => lineOf.get(id)).join(',')}]`, 'utf8'));
      // Within maxBatchBytes, unless a single event.
      if (ids.length > 1) expect(body.length - 2 - (ids.length - 1)).toBeLessThanOrEqual(2000);
    }
    expect(delivered.sort()).toEqual([...lineOf.keys()].sort());
    expect(accepted.some((body) => body.includes('日本語'))).toBe(true);
    expect(errors.length).toBeGreaterThan(0); // the retry was reported
  });

  it('a sink that writes a body is never handed the events; JSON lines framing (file, stdout) ends every line', async () => {
    const events = await realEvents();
    const bodies: string[] = [];
    const sink: EventSink = {
      framing: { head: '', separator: '\n', tail: '\n' },
      write: () => {
        throw new Error('delivery must hand this sink bodies');
      },
      writeBody: (body) => void bodies.push(Buffer.from(body).toString('utf8')),
    };
    const delivery = new Delivery(
      sink,
      {
        batchSize: 1000,
        maxBatchSize: 1000,
        maxBatchBytes: 1_000_000,
        maxInFlight: 1,
        flushIntervalMs: 1,
        timeoutMs: 1000,
        maxQueueSize: 10_000,
        retryInitialDelayMs: 1,
        retryMaxDelayMs: 1,
      },
      () => {},
    );
    delivery.push(events);
    await delivery.flush();
    expect(bodies.join('')).toBe(events.map((e) => JSON.stringify(e) + '\n').join(''));
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
