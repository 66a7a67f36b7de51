/**
 * Issue #7 item 1: the bound on what alm-otel holds for delivery must hold when the agent never
 * yields (sync tools): records waiting to become events count against maxQueueSize too.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ALM } from '../../src';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe('memory while the agent never yields', () => {
  it('300k sync tool calls in one run keep the heap within 64 MB of its start (default maxQueueSize); drops counted', async () => {
    const errors: Error[] = [];
    const alm = new ALM({
      agentId: 'tight-loop',
      events: { sink: () => {}, flushOnExit: false, shutdownTimeoutMs: 0 },
      onError: (error) => errors.push(error),
    });
    const t = alm.tool('t', (i: number) => i + 1);
    const start = heapAfterGc();
    let peak = 0;
    alm.run(() => {
      for (let i = 0; i < 300_000; i++) {
        t(i);
        if (i % 50_000 === 49_999) peak = Math.max(peak, heapAfterGc() - start);
      }
    });
    peak = Math.max(peak, heapAfterGc() - start);
    expect(peak).toBeLessThan(64 * 1024 * 1024);
    const stats = alm.stats();
    expect(stats.emitted).toBe(2 + 300_000 * 3);
    expect(stats.queued).toBeLessThanOrEqual(10_000);
    expect(stats.dropped).toBe(stats.emitted - stats.queued);
    expect(errors.some((e) => e.message.startsWith('event queue full'))).toBe(true);
    await alm.shutdown();
    const after = alm.stats();
    expect(after.emitted).toBe(after.delivered + after.failed + after.dropped + after.queued);
  }, 60_000);
});
