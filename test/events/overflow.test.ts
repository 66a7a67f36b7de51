/**
 * An agent that never yields past maxQueueSize: waiting records are dropped as records (not turned into
 * events first), oldest first and never a run's; what is kept is the newest, every drop is counted and
 * told to onError.
 */
import { ALM, type ALMEvent } from '../../src';

describe('never-yielding agent at the queue bound', () => {
  it('keeps run.start, run.end and the newest calls; counts and reports the rest', async () => {
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
    // The newest calls are what is left, whole and in order.
    const responses = events.filter((e) => e.event_type === 'tool.response');
    const last = responses.map((e) => (e.metadata as { result?: unknown }).result);
    expect(last[last.length - 1]).toBe(999);
    expect(last).toEqual([...last].sort((a, b) => Number(a) - Number(b)));
    expect(errors.some((e) => e.message.startsWith('event queue full (maxQueueSize 30)'))).toBe(true);
    await alm.shutdown();
    const after = alm.stats();
    expect(after.emitted).toBe(after.delivered + after.failed + after.dropped + after.queued);
  });
});
