/**
 * The crash-safe spool (events.spoolDir), in this process: written ahead, removed once delivered,
 * replayed by the next instance on the same directory, safe against a torn last record, bounded by
 * spoolMaxBytes. Crashes (kill -9) and two processes on one directory: spool-crash.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALM, type ALMEvent, type ALMOptions } from '../../src';
import { sleep, validated } from '../helpers/harness';
import { freePort } from '../helpers/receiver';

const spoolFiles = (dir: string) => readdirSync(dir).filter((name) => name.endsWith('.spool'));
const spoolLines = (dir: string) =>
  spoolFiles(dir).flatMap((name) => readFileSync(join(dir, name), 'utf8').split('\n').filter(Boolean));

function agent(dir: string, events: NonNullable<ALMOptions['events']>, errors: Error[] = []): ALM {
  return new ALM({
    agentId: 'spooler',
    events: { spoolDir: dir, flushOnExit: false, retryInitialDelayMs: 20, retryMaxDelayMs: 100, ...events },
    onError: (error) => errors.push(error),
  });
}

function work(alm: ALM, calls: number, label = 'x'): void {
  const t = alm.tool('t', (args: { label: string; i: number }) => args.i);
  alm.run(() => {
    for (let i = 0; i < calls; i++) t({ label, i });
  });
}

/** A pid no process has (a child that already exited). */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid!;
}

describe('spool', () => {
  it('writes events to disk before they are delivered, and removes them once delivered', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'alm-spool-'));
    const received: ALMEvent[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const alm = agent(dir, {
      sink: async (batch) => {
        await gate;
        received.push(...batch);
      },
    });
    work(alm, 10);
    // The sink holds the first batch; the events are on disk meanwhile.
    for (let i = 0; i < 500 && spoolLines(dir).length < 32; i++) await sleep(10);
    const onDisk = spoolLines(dir).map((line) => JSON.parse(line) as ALMEvent);
    expect(validated(onDisk)).toHaveLength(32);
    release();
    await alm.shutdown();
    expect(received.map((e) => e.event_id).sort()).toEqual(onDisk.map((e) => e.event_id).sort());
    expect(spoolFiles(dir)).toEqual([]);
    expect(alm.stats()).toMatchObject({ emitted: 32, delivered: 32, queued: 0 });
  });

  it('says at shutdown how many undelivered events are on disk and how many had no room there', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'alm-spool-'));
    const errors: Error[] = [];
    const down = agent(
      dir,
      { sink: 'http', endpoint: `http://127.0.0.1:${await freePort()}`, shutdownTimeoutMs: 0, spoolMaxBytes: 4096 },
      errors,
    );
    work(down, 60, 'x'.repeat(100)); // 182 events of ~600 bytes: far more than 4 KiB
    await down.shutdown();
    expect(down.stats()).toMatchObject({ emitted: 182, delivered: 0, failed: 182 });
    const message = errors.find((e) => e.message.startsWith('182 events could not be delivered'))!.message;
    const [, kept, lost] =
      /; (\d+) stay in the spool \(.*\) for the next process on it; (\d+) had no room on disk/.exec(message)!;
    expect(Number(kept) + Number(lost)).toBe(182);
    expect(Number(lost)).toBeGreaterThan(0);
    expect(spoolLines(dir).length).toBeGreaterThanOrEqual(Number(kept));
  });

  it('an instance started on the same spoolDir delivers what an earlier one could not, with every sink', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'alm-spool-'));
    const errors: Error[] = [];
    const down = agent(
      dir,
      { sink: 'http', endpoint: `http://127.0.0.1:${await freePort()}`, shutdownTimeoutMs: 0 },
      errors,
    );
    work(down, 20);
    await down.shutdown();
    expect(down.stats()).toMatchObject({ emitted: 62, delivered: 0, failed: 62 });
    expect(errors.at(-1)!.message).toBe(
      `62 events could not be delivered within shutdownTimeoutMs (0 ms); they stay in the spool (${dir}) for the next process on it`,
    );
    expect(spoolLines(dir)).toHaveLength(62);

    const file = join(dir, 'out.jsonl');
    const next = agent(dir, { sink: 'file', path: file });
    await next.shutdown();
    const delivered = readFileSync(file, 'utf8').trim().split('\n');
    expect(validated(delivered.map((line) => JSON.parse(line) as ALMEvent))).toHaveLength(62);
    expect(next.stats()).toMatchObject({ emitted: 62, delivered: 62, queued: 0 });
    expect(spoolFiles(dir)).toEqual([]);
  });

  it('a torn last record and an unreadable line are skipped and reported; every whole record is delivered', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'alm-spool-'));
    const source: ALMEvent[] = [];
    const alm = agent(dir, { sink: (batch) => void source.push(...batch) });
    work(alm, 3);
    await alm.shutdown();
    const lines = source.map((e) => JSON.stringify(e));
    const host = hostname().replace(/[^A-Za-z0-9.]/g, '_');
    const torn = lines[10]!.slice(0, 40);
    writeFileSync(
      join(dir, `alm-${host}-${deadPid()}-0badf00d-1.spool`),
      [...lines.slice(0, 5), 'garbage', ...lines.slice(5, 10)].join('\n') + '\n' + torn,
    );
    const received: ALMEvent[] = [];
    const errors: Error[] = [];
    const next = agent(dir, { sink: (batch) => void received.push(...batch) }, errors);
    await next.shutdown();
    expect(received.map((e) => e.event_id)).toEqual(source.slice(0, 10).map((e) => e.event_id));
    expect(errors.map((e) => e.message)).toEqual([
      expect.stringMatching(/^alm-otel spool: skipped 2 torn or unreadable records in alm-.*-0badf00d-1\.spool$/),
    ]);
    expect(spoolFiles(dir)).toEqual([]);
  });
});
