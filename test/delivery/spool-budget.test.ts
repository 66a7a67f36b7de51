/**
 * spoolMaxBytes under an outage (issue 15, items 1 and 2): a spool of any size never keeps fewer
 * events than no spool, keeps each run's run.start/run.end on disk while anything of the run is
 * there (when only boundaries are left, whole runs leave, oldest first; also at process.exit() and an
 * uncaught exception, in real child processes), and its files never exceed spoolMaxBytes, sampled on
 * every change; a backlog replayed into a smaller budget is trimmed, not dropped. A real receiver on
 * 127.0.0.1 (down unless started), real files.
 */
import { mkdtempSync, readFileSync, readdirSync, statSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALM, type ALMEvent, type ALMOptions } from '../../src';
import { runNode } from '../helpers/child';
import { sleep } from '../helpers/harness';
import { Receiver, freePort } from '../helpers/receiver';

const spoolFiles = (dir: string) => readdirSync(dir).filter((name) => name.endsWith('.spool'));
function spoolBytes(dir: string): number {
  let n = 0;
  for (const name of spoolFiles(dir)) {
    try {
      n += statSync(join(dir, name)).size;
    } catch {
      // deleted meanwhile
    }
  }
  return n;
}
const spoolEvents = (dir: string) =>
  spoolFiles(dir).flatMap((name) =>
    readFileSync(join(dir, name), 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '') // a line of spaces: a gap left by an in-place compaction
      .map((line) => JSON.parse(line) as ALMEvent),
  );

function agent(receiver: Receiver, events: NonNullable<ALMOptions['events']>, errors: Error[] = []): ALM {
  return new ALM({
    agentId: 'outage',
    events: {
      sink: 'http',
      endpoint: receiver.url,
      flushOnExit: false,
      retryInitialDelayMs: 20,
      retryMaxDelayMs: 100,
      ...events,
    },
    onError: (error) => errors.push(error),
  });
}

/** The directory's size sampled on every change to it and every millisecond, in order. */
function watchSize(dir: string): { samples: number[]; stop: () => void } {
  const samples = [spoolBytes(dir)];
  const sample = () => samples.push(spoolBytes(dir));
  const watcher = watch(dir, sample);
  const timer = setInterval(sample, 1);
  return {
    samples,
    stop: () => {
      watcher.close();
      clearInterval(timer);
      sample();
    },
  };
}

/** `runs` runs of `calls` tool calls each (20 events a run with 6 calls), the loop turning between runs; returns the largest spool size seen. */
async function outage(alm: ALM, runs: number, calls: number, dir?: string): Promise<number> {
  const t = alm.tool('t', (args: { i: number; pad: string }) => args.i);
  let most = 0;
  for (let r = 0; r < runs; r++) {
    alm.run({ purpose: `run ${r}` }, () => {
      for (let i = 0; i < calls; i++) t({ i, pad: 'p'.repeat(200) });
    });
    await new Promise((resolve) => setImmediate(resolve));
    if (dir !== undefined) most = Math.max(most, spoolBytes(dir));
  }
  for (let i = 0; i < 20; i++) {
    await sleep(5);
    if (dir !== undefined) most = Math.max(most, spoolBytes(dir));
  }
  return most;
}

/** Runs by id, with the kinds of their events in `events`. */
function runsOf(events: Iterable<ALMEvent>): Map<string, Set<string>> {
  const byRun = new Map<string, Set<string>>();
  for (const e of events) {
    const kinds = byRun.get(e.run_id!) ?? new Set<string>();
    kinds.add(e.event_type);
    byRun.set(e.run_id!, kinds);
  }
  return byRun;
}

const whole = (kinds: Set<string>) => kinds.has('run.start') && kinds.has('run.end');

/** runsOf, keyed by each run's purpose (from its run.start; `?<run_id>` for a run without one on disk). */
function runsByPurpose(events: ALMEvent[]): Map<string, Set<string>> {
  const purposes = new Map<string, string>();
  for (const e of events) if (e.event_type === 'run.start') purposes.set(e.run_id!, String(e.metadata.purpose));
  return new Map([...runsOf(events)].map(([run, kinds]) => [purposes.get(run) ?? `?${run}`, kinds]));
}

describe('spoolMaxBytes during an outage', () => {
  let receiver: Receiver;
  beforeEach(async () => {
    receiver = new Receiver();
    receiver.port = await freePort();
  });
  afterEach(() => receiver.stop());

  it.each([64 * 1024, 1024 * 1024])(
    'a %i-byte spool keeps at least what no spool keeps, and its files never exceed it',
    async (spoolMaxBytes) => {
      const dir = mkdtempSync(join(tmpdir(), 'alm-budget-'));
      const errors: Error[] = [];
      const spooled = agent(receiver, { spoolDir: dir, spoolMaxBytes, maxQueueSize: 1500 }, errors);
      const most = await outage(spooled, 100, 6, dir); // 2,000 events, ~700 KB of JSON
      const plain = agent(receiver, { maxQueueSize: 1500 });
      await outage(plain, 100, 6);
      expect(most).toBeGreaterThan(0);
      expect(most).toBeLessThanOrEqual(spoolMaxBytes);
      await receiver.start();
      await spooled.shutdown();
      const withSpool = spooled.stats();
      await plain.shutdown();
      const without = plain.stats();
      expect(without.delivered).toBe(1500);
      expect(withSpool).toMatchObject({ emitted: 2000, delivered: without.delivered, queued: 0, failed: 0 });
      expect(receiver.events.size).toBe(withSpool.delivered + without.delivered);
      expect(spoolFiles(dir)).toEqual([]);
    },
    30_000,
  );

  it('what is left on disk at shutdown fits spoolMaxBytes, and the next process delivers it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'alm-budget-'));
    const spoolMaxBytes = 64 * 1024;
    const errors: Error[] = [];
    const alm = agent(receiver, { spoolDir: dir, spoolMaxBytes, shutdownTimeoutMs: 100 }, errors);
    const most = await outage(alm, 100, 6, dir);
    await alm.shutdown();
    expect(most).toBeLessThanOrEqual(spoolMaxBytes);
    expect(spoolBytes(dir)).toBeLessThanOrEqual(spoolMaxBytes);
    const left = spoolEvents(dir);
    // The newest events, and the run boundaries that fit, survive.
    expect(left.length).toBeGreaterThan(10);
    expect(errors.some((e) => /spoolMaxBytes 65536 reached: \d+ events .* kept in memory only/.test(e.message))).toBe(
      true,
    );
    await receiver.start();
    const next = agent(receiver, { spoolDir: dir, spoolMaxBytes });
    await next.shutdown();
    expect(receiver.events.size).toBe(new Set(left.map((e) => e.event_id)).size);
    expect(spoolFiles(dir)).toEqual([]);
  }, 30_000);

  describe('a backlog replayed into a smaller spoolMaxBytes', () => {
    async function backlog(): Promise<{ dir: string; events: number; bytes: number }> {
      const dir = mkdtempSync(join(tmpdir(), 'alm-backlog-'));
      const alm = agent(receiver, { spoolDir: dir, spoolMaxBytes: 8 << 20, shutdownTimeoutMs: 50 });
      await outage(alm, 450, 6, dir); // 9,000 events
      await alm.shutdown();
      return { dir, events: spoolEvents(dir).length, bytes: spoolBytes(dir) };
    }

    it('is delivered in full by a healthy receiver', async () => {
      const { dir, events, bytes } = await backlog();
      expect(events).toBe(9000);
      expect(bytes).toBeGreaterThan(2 << 20);
      await receiver.start();
      const next = agent(receiver, { spoolDir: dir, spoolMaxBytes: 1 << 20 });
      await next.shutdown();
      expect(next.stats()).toMatchObject({ emitted: 9000, delivered: 9000, dropped: 0, failed: 0 });
      expect(receiver.events.size).toBe(9000);
      expect(spoolFiles(dir)).toEqual([]);
    }, 60_000);

    it('with the receiver still down, is trimmed to the budget, oldest non-lifecycle first, not dropped whole; the directory never grows past what was left, and once within the budget never leaves it', async () => {
      const { dir, bytes } = await backlog();
      const errors: Error[] = [];
      const size = watchSize(dir);
      const next = agent(receiver, { spoolDir: dir, spoolMaxBytes: 1 << 20, shutdownTimeoutMs: 50 }, errors);
      // Observable states only: the backlog is all in delivery's hands, and the directory within the budget.
      for (let i = 0; i < 3000 && (next.stats().queued < 9000 || spoolBytes(dir) > 1 << 20); i++) await sleep(10);
      expect(spoolBytes(dir)).toBeLessThanOrEqual(1 << 20);
      await outage(next, 10, 6, dir);
      expect(next.stats()).toMatchObject({ emitted: 9200, dropped: 0, queued: 9200 });
      await next.shutdown();
      size.stop();
      expect(Math.max(...size.samples)).toBeLessThanOrEqual(bytes);
      const within = size.samples.findIndex((n) => n <= 1 << 20);
      expect(within).toBeGreaterThanOrEqual(0);
      expect(Math.max(...size.samples.slice(within))).toBeLessThanOrEqual(1 << 20);
      expect(spoolBytes(dir)).toBeLessThanOrEqual(1 << 20);
      const left = spoolEvents(dir);
      expect(left.length).toBeGreaterThan(1000);
      // Every run's boundaries are still there; the oldest tool events went first.
      const runs = runsOf(left);
      expect(runs.size).toBe(460);
      expect([...runs.values()].every(whole)).toBe(true);
    }, 60_000);
  });

  describe('by whole runs', () => {
    it('with only run boundaries left and no room, the oldest runs leave the disk whole; every run on disk is whole, the newest are there', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'alm-runs-'));
      const size = watchSize(dir);
      const alm = agent(receiver, { spoolDir: dir, spoolMaxBytes: 4096, shutdownTimeoutMs: 50 });
      const t = alm.tool('t', (i: number) => i);
      for (let r = 0; r < 60; r++) {
        alm.run({ purpose: `run ${r}` }, () => t(r));
        await new Promise((resolve) => setImmediate(resolve));
      }
      await alm.shutdown();
      size.stop();
      expect(Math.max(...size.samples)).toBeLessThanOrEqual(4096);
      const runs = runsByPurpose(spoolEvents(dir));
      expect([...runs.entries()].filter(([, kinds]) => !whole(kinds))).toEqual([]);
      expect(runs.has('run 59')).toBe(true);
      expect(runs.has('run 58')).toBe(true);
    }, 30_000);

    it('one long run keeps its run.start, its run.end and some of its events on disk: it does not leave whole while other events can', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'alm-long-'));
      const size = watchSize(dir);
      const alm = agent(receiver, { spoolDir: dir, spoolMaxBytes: 8192, shutdownTimeoutMs: 50 });
      const t = alm.tool('t', (i: number) => i);
      await alm.run({ purpose: 'long' }, async () => {
        for (let i = 0; i < 300; i++) {
          t(i);
          if (i % 5 === 0) await new Promise((resolve) => setImmediate(resolve));
        }
      });
      await alm.shutdown();
      size.stop();
      expect(Math.max(...size.samples)).toBeLessThanOrEqual(8192);
      const left = spoolEvents(dir);
      expect(left.filter((e) => e.event_type === 'run.start' || e.event_type === 'run.end')).toHaveLength(2);
      expect(left.length).toBeGreaterThan(2);
    }, 30_000);

    it.each([
      ['process.exit()', 'process.exit(0);'],
      ['an uncaught exception', "throw new Error('crash');"],
    ])(
      'at %s with a full spool, the last run is on disk whole, every run on disk is whole, and the bound holds',
      async (_, ending) => {
        const dir = mkdtempSync(join(tmpdir(), 'alm-runs-exit-'));
        const size = watchSize(dir);
        const result = await runNode(`
          import { ALM } from ALM_DIST;
          const alm = new ALM({
            agentId: 'exiting',
            events: { sink: 'http', endpoint: ${JSON.stringify(receiver.url)}, spoolDir: ${JSON.stringify(dir)}, spoolMaxBytes: 4096 },
            onError: (e) => process.stderr.write('onError: ' + e.message + '\\n'),
          });
          const t = alm.tool('t', (i) => i);
          for (let r = 0; r < 40; r++) {
            alm.run({ purpose: 'run ' + r }, () => t(r));
            await new Promise((resolve) => setImmediate(resolve));
          }
          alm.run({ purpose: 'last' }, () => t(40));
          ${ending}
        `);
        size.stop();
        expect(result.code).toBe(ending.startsWith('throw') ? 1 : 0);
        expect(Math.max(...size.samples)).toBeLessThanOrEqual(4096);
        const runs = runsByPurpose(spoolEvents(dir));
        expect([...runs.entries()].filter(([, kinds]) => !whole(kinds))).toEqual([]);
        expect(whole(runs.get('last') ?? new Set())).toBe(true);
      },
      30_000,
    );
  });
});
