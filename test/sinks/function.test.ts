/**
 * The function sink: the user's own code. Its throws are retried with backoff; an ALMDeliveryError
 * with retryable: false rejects a batch for good (with status 400/422, split to the culprits); and
 * shutdown holds shutdownTimeoutMs whatever the function does (real ESM and CJS child processes).
 */
import { ALM, ALMDeliveryError, type ALMEvent } from '../../src';
import { runNode } from '../helpers/child';

const FAST = { flushOnExit: false, retryInitialDelayMs: 5, retryMaxDelayMs: 20 } as const;

describe('function sink', () => {
  it('a throw is retried with backoff, not set aside, even with batchSize 1', async () => {
    const received: ALMEvent[] = [];
    const errors: Error[] = [];
    let calls = 0;
    const alm = new ALM({
      agentId: 'flaky',
      events: {
        ...FAST,
        batchSize: 1,
        sink: (batch) => {
          if (++calls % 3 === 1) throw new Error('broker busy');
          received.push(...batch);
        },
      },
      onError: (error) => errors.push(error),
    });
    const t = alm.tool('t', () => 1);
    for (let i = 0; i < 20; i++) alm.run(() => t());
    await alm.shutdown();
    const stats = alm.stats();
    expect(stats).toMatchObject({ emitted: 100, delivered: 100, failed: 0, dropped: 0 });
    expect(stats.retried).toBeGreaterThan(0);
    expect(new Set(received.map((e) => e.event_id)).size).toBe(100);
    expect(errors[0]).toMatchObject({ name: 'ALMDeliveryError', retryable: true });
    expect(errors[0]!.message).toMatch(
      /^event sink function failed for \d+ events: broker busy; retrying with backoff/,
    );
  });

  it('ALMDeliveryError with retryable: false rejects the batch for good; with status 422, only the culprit', async () => {
    const errors: Error[] = [];
    const received: ALMEvent[] = [];
    const alm = new ALM({
      agentId: 'strict',
      events: {
        ...FAST,
        batchSize: 100,
        sink: (batch) => {
          if (batch.some((e) => e.event_type === 'policy.decision' && e.metadata.tool_name === 'poison')) {
            throw new ALMDeliveryError('poison refused', batch.length, { retryable: false, status: 422 });
          }
          received.push(...batch);
        },
      },
      onError: (error) => errors.push(error),
    });
    const ok = alm.tool('ok', () => 1);
    const poison = alm.tool('poison', () => 1);
    alm.run(() => {
      ok();
      poison();
      ok();
    });
    await alm.shutdown();
    expect(alm.stats()).toMatchObject({ emitted: 11, delivered: 10, failed: 1, retried: 0 });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ message: 'poison refused', retryable: false });

    const whole: Error[] = [];
    const refusing = new ALM({
      agentId: 'refusing',
      events: {
        ...FAST,
        sink: (batch) => {
          throw new ALMDeliveryError('schema mismatch', batch.length, { retryable: false });
        },
      },
      onError: (error) => whole.push(error),
    });
    const t = refusing.tool('t', () => 1);
    refusing.run(() => t());
    await refusing.shutdown();
    expect(refusing.stats()).toMatchObject({ emitted: 5, delivered: 0, failed: 5, retried: 0 });
    expect(whole.map((e) => e.message)).toEqual(['schema mismatch']);
  });

  describe.each(['esm', 'cjs'] as const)('a promise that never settles (%s)', (kind) => {
    it('shutdown still returns after shutdownTimeoutMs, the process does not exit in the middle of it, onError is told', async () => {
      const load = kind === 'esm' ? `import { ALM } from ALM_DIST;` : `const { ALM } = require(ALM_DIST);`;
      const body = `
        const alm = new ALM({
          agentId: 'hung',
          events: { sink: () => new Promise(() => {}), shutdownTimeoutMs: 300, timeoutMs: 10000, flushOnExit: false },
          onError: (e) => console.log('onError: ' + e.message),
        });
        const t = alm.tool('t', () => 1);
        alm.run(() => t());
        const started = Date.now();
        await alm.shutdown();
        console.log('after shutdown ' + (Date.now() - started));
      `;
      const code = kind === 'esm' ? `${load}\n${body}` : `${load}\n(async () => {${body}})();`;
      const result = await runNode(code, kind);
      expect(result).toMatchObject({ code: 0, stderr: '' });
      const lines = result.stdout.trim().split('\n');
      expect(lines[0]).toBe(
        'onError: 5 events could not be delivered within shutdownTimeoutMs (300 ms); they are lost',
      );
      const took = Number(/^after shutdown (\d+)$/.exec(lines[1]!)![1]);
      expect(took).toBeGreaterThanOrEqual(250);
      expect(took).toBeLessThan(5000);
    }, 30_000);
  });
});
