/**
 * The spool by whole runs (issue 15): when the files hold nothing but run boundaries and there is no
 * room, the oldest runs leave the disk whole, so every run on disk has its run.start and run.end and
 * the newest runs are there; the same holds when the process ends with process.exit() (a real child
 * process); and the directory never exceeds spoolMaxBytes, sampled on every change.
 */
import { mkdtempSync, readFileSync, readdirSync, statSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALM, type ALMEvent, type ALMOptions } from '../../src';
import { runNode } from '../helpers/child';
import { freePort } from '../helpers/receiver';

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
      .filter((line) => line.trim() !== '')
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as ALMEvent];
        } catch {
          return [];
        }
      }),
  );

/** The directory's size, sampled on every change to it and every millisecond: the largest seen. */
function watchSize(dir: string): { most: () => number; stop: () => void } {
  let most = spoolBytes(dir);
  const sample = () => (most = Math.max(most, spoolBytes(dir)));
  const watcher = watch(dir, sample);
  const timer = setInterval(sample, 1);
  return {
    most: () => (sample(), most),
    stop: () => {
      watcher.close();
      clearInterval(timer);
    },
  };
}

/** Runs by purpose, with the kinds of their events. */
function runsOf(events: Iterable<ALMEvent>): Map<string, Set<string>> {
  const ids = new Map<string, string>();
  for (const e of events) if (e.event_type === 'run.start') ids.set(e.run_id!, String(e.metadata.purpose));
  const byRun = new Map<string, Set<string>>();
  for (const e of events) {
    const key = ids.get(e.run_id!) ?? `?${e.run_id}`;
    const kinds = byRun.get(key) ?? new Set<string>();
    kinds.add(e.event_type);
    byRun.set(key, kinds);
  }
  return byRun;
}
const whole = (kinds: Set<string>) => kinds.has('run.start') && kinds.has('run.end');

function agent(endpoint: string, events: NonNullable<ALMOptions['events']>, errors: Error[] = []): ALM {
  return new ALM({
    agentId: 'runs',
    events: { sink: 'http', endpoint, flushOnExit: false, retryInitialDelayMs: 20, retryMaxDelayMs: 100, ...events },
    onError: (error) => errors.push(error),
  });
}

describe('the spool by whole runs', () => {
  it('with only run boundaries left and no room, the oldest runs leave the disk whole; every run on disk is whole, the newest are there', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'alm-runs-'));
    const endpoint = `http://127.0.0.1:${await freePort()}`; // down
    const size = watchSize(dir);
    const alm = agent(endpoint, { spoolDir: dir, spoolMaxBytes: 4096, shutdownTimeoutMs: 50 });
    const t = alm.tool('t', (i: number) => i);
    for (let r = 0; r < 60; r++) {
      alm.run({ purpose: `run ${r}` }, () => t(r));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await alm.shutdown();
    size.stop();
    expect(size.most()).toBeLessThanOrEqual(4096);
    const runs = runsOf(spoolEvents(dir));
    expect([...runs.entries()].filter(([, kinds]) => !whole(kinds))).toEqual([]);
    expect(runs.has('run 59')).toBe(true);
    expect(runs.has('run 58')).toBe(true);
  }, 30_000);

  it.each([
    ['process.exit()', 'process.exit(0);'],
    ['an uncaught exception', "throw new Error('crash');"],
  ])(
    'at %s with a full spool, the last run is on disk whole, every run on disk is whole, and the bound holds',
    async (_, ending) => {
      const dir = mkdtempSync(join(tmpdir(), 'alm-runs-exit-'));
      const endpoint = `http://127.0.0.1:${await freePort()}`; // down
      const size = watchSize(dir);
      const result = await runNode(`
        import { ALM } from ALM_DIST;
        const alm = new ALM({
          agentId: 'exiting',
          events: { sink: 'http', endpoint: ${JSON.stringify(endpoint)}, spoolDir: ${JSON.stringify(dir)}, spoolMaxBytes: 4096 },
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
      expect(size.most()).toBeLessThanOrEqual(4096);
      const runs = runsOf(spoolEvents(dir));
      expect([...runs.entries()].filter(([, kinds]) => !whole(kinds))).toEqual([]);
      expect(whole(runs.get('last') ?? new Set())).toBe(true);
    },
    30_000,
  );
});
