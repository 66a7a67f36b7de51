/**
 * An agent that never yields past maxQueueSize: once the bound is reached, new operations are dropped
 * whole, as records (never turned into events), never a run's; what is kept is every operation that
 * found room, whole; every drop is counted and told to onError.
 */
import { ALM, type ALMEvent } from '../../src';

describe('never-yielding agent at the queue bound', () => {
  it('keeps run.start, run.end and the calls that found room, each whole; counts and reports the rest', async () => {
    const events: ALMEvent[] = [];
    const errors: Error[] = [];
    const alm = new ALM({
      agentId: 'tight',
      policy: { deniedTools: ['never_*'] },
      events: { sink: (batch) => void events.push(...batch), maxQueueSize: 30, flushOnExit: false },
      onError: (error) => errors.push(error),
    });
    const t = alm.tool('t', (i: number) => i);
    const denied = alm.tool('never_run', (i: number) => i);
    alm.run(() => {
      for (let i = 0; i < 1000; i++) {
        t(i);
        if (i % 100 === 0) {
          try {
            denied(i);
          } catch {
            // refused
          }
        }
      }
    });
    const stats = alm.stats();
    expect(stats.emitted).toBe(2 + 1000 * 3 + 10 * 3);
    expect(stats.queued).toBeLessThanOrEqual(30);
    expect(stats.dropped).toBe(stats.emitted - stats.queued);
    await alm.flush();
    const types = events.map((e) => e.event_type);
    expect(types[0]).toBe('run.start');
    expect(types[types.length - 1]).toBe('run.end');
    // The calls that found room are what is left: the first ones, in order, each whole.
    const responses = events.filter((e) => e.event_type === 'tool.response');
    // (the first, t(0), made room for run.end: a run's boundaries are never dropped)
    const kept = responses.flatMap((e) => ((e.metadata as { result?: number }).result ?? []) as number[]);
    expect(kept.length).toBeGreaterThan(3);
    expect(kept[0]).toBeLessThanOrEqual(1);
    expect(kept).toEqual(kept.map((_, i) => kept[0]! + i));
    const byCall = new Map<string, string[]>();
    for (const e of events) {
      const id = (e.metadata as { tool_call_id?: string }).tool_call_id;
      if (id !== undefined) byCall.set(id, [...(byCall.get(id) ?? []), e.event_type]);
    }
    for (const kinds of byCall.values()) expect(kinds).toEqual(['tool.request', 'policy.decision', 'tool.response']);
    expect(errors.some((e) => e.message.startsWith('event queue full (maxQueueSize 30)'))).toBe(true);
    await alm.shutdown();
    const after = alm.stats();
    expect(after.emitted).toBe(after.delivered + after.failed + after.dropped + after.queued);
  });
});
