/** Delivery cadence: start events arrive while the run is still going; batches respect batchSize. */
import { context, trace } from '@opentelemetry/api';
import { ALM, type ALMEvent } from '../../src';
import { createHarness, sleep, validated, type Harness } from '../helpers/harness';
import { eventLines, runTsx, spawnTsx } from '../helpers/scripts';

describe('event pipeline', () => {
  let h: Harness;
  afterEach(() => h?.close());

  it('delivers start events within flushIntervalMs while the run is still going', async () => {
    h = createHarness({ alm: { events: { sink: (b) => void h.events.push(...b), flushIntervalMs: 50 } } });
    let finishTool!: () => void;
    const search = h.alm.tool('search', () => new Promise<string>((resolve) => (finishTool = () => resolve('late'))));
    let seenDuringRun: string[] = [];
    await h.alm.run(async () => {
      const pending = h.alm.task({ type: 'long' }, () => search());
      // The tool is still running; wait for the sink rather than a fixed time.
      for (let i = 0; i < 200 && h.events.length < 4; i++) await sleep(10);
      seenDuringRun = h.events.map((e) => e.event_type);
      finishTool();
      await pending;
    });
    expect(seenDuringRun).toEqual(['run.start', 'task.start', 'tool.request', 'policy.decision']);
    const all = await h.flushEvents();
    expect(all.map((e) => e.event_type).slice(4)).toEqual(['tool.response', 'task.end', 'run.end']);
  });

  it('never hands the sink more than maxBatchSize events at once, and loses none', async () => {
    const batches: number[] = [];
    const events: ALMEvent[] = [];
    const alm = new ALM({
      agentId: 'batcher',
      events: {
        sink: (batch) => {
          batches.push(batch.length);
          events.push(...batch);
        },
        batchSize: 7,
        maxBatchSize: 7,
        flushIntervalMs: 10_000,
      },
    });
    const t = alm.tool('t', () => 1);
    alm.run(() => {
      for (let i = 0; i < 20; i++) t();
    });
    // A full batch is delivered without waiting for the (long) interval.
    for (let i = 0; i < 100 && events.length < 7; i++) await sleep(5);
    expect(events.length).toBeGreaterThanOrEqual(7);
    await alm.shutdown();
    expect(Math.max(...batches)).toBeLessThanOrEqual(7);
    expect(validated(events)).toHaveLength(2 + 20 * 3);
    expect(new Set(events.map((e) => e.event_id)).size).toBe(events.length);
    expect(alm.stats()).toEqual({ emitted: 62, delivered: 62, retried: 0, failed: 0, dropped: 0, queued: 0 });
  });

  it.each([
    ['as it fills', false],
    ['on flush()', true],
  ])(
    'turns a backlog into events a batch at a time %s: the event loop turns between batches, order kept',
    async (_name, flush) => {
      const written: { ticks: number; ids: string[] }[] = [];
      let ticks = 0;
      const alm = new ALM({
        agentId: 'backlog',
        events: {
          sink: (batch) => void written.push({ ticks, ids: batch.map((e) => e.event_id) }),
          batchSize: 50,
          maxBatchSize: 500,
          flushIntervalMs: 10_000,
        },
      });
      const t = alm.tool('t', () => 1);
      alm.run(() => {
        for (let i = 0; i < 2000; i++) t(); // 6,002 events, queued in one turn of the event loop
      });
      // The application's own work, a turn of the event loop at a time, while the backlog goes out.
      let counting = true;
      const count = () => {
        ticks++;
        if (counting) setImmediate(count);
      };
      setImmediate(count);
      if (!flush) for (let i = 0; i < 400 && written.reduce((n, b) => n + b.ids.length, 0) < 6000; i++) await sleep(5);
      await alm.flush();
      counting = false;
      const events = written.flatMap((b) => b.ids);
      expect(events).toHaveLength(6002);
      expect(new Set(events).size).toBe(6002);
      expect(Math.max(...written.map((b) => b.ids.length))).toBeLessThanOrEqual(500);
      // Batches went out over many turns: translating the whole backlog at once would hand the sink every
      // full batch within one turn, the application waiting meanwhile.
      expect(new Set(written.map((b) => b.ticks)).size).toBeGreaterThanOrEqual(4);
      await alm.shutdown();
      expect(alm.stats()).toMatchObject({ emitted: 6002, delivered: 6002, dropped: 0, failed: 0 });
    },
  );

  it('after shutdown, tools still run and are policed; their events are counted as dropped', async () => {
    h = createHarness({ alm: { policy: { maxToolCallsPerRun: 1 } } });
    await h.alm.shutdown();
    const t = h.alm.tool('t', () => 'ok');
    expect(() =>
      h.alm.run(() => {
        t();
        t();
      }),
    ).toThrow('Budget exceeded');
    const stats = h.alm.stats();
    expect(stats.dropped).toBe(8);
    expect(stats.emitted).toBe(stats.delivered + stats.failed + stats.dropped + stats.queued);
  });

  it('counts events still waiting for translation as queued', () => {
    h = createHarness({ alm: { events: { sink: () => {}, flushIntervalMs: 60_000 } } });
    const t = h.alm.tool('t', () => 1);
    h.alm.run(() => t());
    expect(h.alm.stats()).toMatchObject({ emitted: 5, queued: 5, delivered: 0 });
  });

  it('a sink that never answers cannot stall delivery: the batch is retried after timeoutMs', async () => {
    const received: ALMEvent[] = [];
    let calls = 0;
    h = createHarness({
      alm: {
        events: {
          timeoutMs: 100,
          retryInitialDelayMs: 5,
          retryMaxDelayMs: 20,
          sink: (batch) => (++calls === 1 ? new Promise<void>(() => {}) : void received.push(...batch)),
        },
      },
    });
    const t = h.alm.tool('t', () => 1);
    h.alm.run(() => t());
    await h.alm.flush(); // settles although the first write never does
    await h.alm.shutdown();
    expect(received.map((e) => e.event_type)).toEqual([
      'run.start',
      'tool.request',
      'policy.decision',
      'tool.response',
      'run.end',
    ]);
    expect(h.errors[0]!.message).toMatch(/^event sink gave no answer within 100 ms/);
  });

  it('shutdown makes one attempt even with shutdownTimeoutMs 0', async () => {
    const received: ALMEvent[] = [];
    const alm = new ALM({
      agentId: 'quick',
      events: { sink: (b) => void received.push(...b), shutdownTimeoutMs: 0, flushOnExit: false },
    });
    const t = alm.tool('t', () => 1);
    alm.run(() => t());
    await alm.shutdown();
    expect(received).toHaveLength(5);
  });

  it("delivers outside the agent's trace, with tracing suppressed", async () => {
    let activeInSink: unknown = 'unset';
    h = createHarness({
      alm: {
        events: {
          sink: () => {
            activeInSink = trace.getSpan(context.active());
          },
          flushIntervalMs: 5,
        },
      },
    });
    const t = h.alm.tool('t', () => 1);
    await h.tracer.startActiveSpan('POST /ask', async (span) => {
      await h.alm.run(async () => {
        t();
        // The interval timer fires while the run and the request span are active (waited for, not timed).
        for (let i = 0; i < 400 && activeInSink === 'unset'; i++) await sleep(5);
      });
      span.end();
    });
    expect(activeInSink).toBeUndefined();
  });

  it("sink 'none' produces no events", async () => {
    const alm = new ALM({ agentId: 'quiet', events: { sink: 'none' } });
    const t = alm.tool('t', () => 2);
    expect(alm.run(() => t())).toBe(2);
    await alm.shutdown();
    expect(alm.stats()).toEqual({ emitted: 0, delivered: 0, retried: 0, failed: 0, dropped: 0, queued: 0 });
  });
});

describe('at process exit', () => {
  const lifecycle = ['run.start', 'tool.request', 'policy.decision', 'tool.response', 'run.end'];

  it('delivers what is queued without shutdown(), and warns once on stderr by default', async () => {
    const { stdout, stderr } = await runTsx('test/fixtures/scripts/exit-without-shutdown.ts');
    expect(eventLines(stdout).map((e) => e.event_type)).toEqual(lifecycle);
    const warnings = stderr.split('\n').filter((line) => line.startsWith('alm-otel: '));
    // Retried with backoff until shutdownTimeoutMs; the default reporter says so once (then stays quiet for 5 s).
    expect(warnings).toEqual([
      'alm-otel: event sink function failed for 1 events: ingest unreachable; retrying with backoff, 17 events kept',
    ]);
  }, 30_000);

  it('on SIGTERM, delivers what is queued, then still ends by the signal', async () => {
    const child = spawnTsx('test/fixtures/scripts/sigterm.ts');
    let stdout = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    await new Promise<void>((resolve) =>
      child.stderr.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve()),
    );
    expect(stdout).toBe(''); // nothing delivered yet: the interval is a minute
    child.kill('SIGTERM');
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.on('exit', (c, s) => resolve([c, s])),
    );
    expect(eventLines(stdout).map((e) => e.event_type)).toEqual(lifecycle);
    // Ended by SIGTERM (tsx relays its child's signal as its own exit status).
    expect(signal === 'SIGTERM' || code === 143).toBe(true);
  }, 30_000);
});
