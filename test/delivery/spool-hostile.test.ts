/**
 * The spool directory is shared ground (issue 15, items 5 and 6): processes in other PID namespaces
 * with the same hostname and pid (simulated through the spool's test seam, in real child processes),
 * and files that are not segments a spool wrote: FIFOs, directories, huge files, lines that are not events.
 */
import { execFileSync, spawn } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  ftruncateSync,
  writeFileSync,
  existsSync,
  renameSync,
  utimesSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALM, type ALMEvent } from '../../src';
import { REPLAY_FILE_LIMIT, spoolTestSeam } from '../../src/delivery/spool';
import { sleep } from '../helpers/harness';
import { Receiver, freePort } from '../helpers/receiver';
import { ROOT } from '../helpers/scripts';

const host = hostname().replace(/[^A-Za-z0-9.]/g, '_');
const spoolFiles = (dir: string) => readdirSync(dir).filter((name) => name.endsWith('.spool'));

describe('hostile files in the spool directory', () => {
  it('FIFOs, directories and huge files are skipped (and left), good files still replay, a JSON line that is not an event is set aside', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'alm-hostile-'));
    const source: ALMEvent[] = [];
    const first = new ALM({ agentId: 'src', events: { sink: (b) => void source.push(...b), flushOnExit: false } });
    const t = first.tool('t', () => 1);
    first.run(() => t());
    await first.shutdown();
    const lines = source.map((e) => JSON.stringify(e));
    const dead = 999_999_999; // no such pid; no heartbeat file: judged by the pid
    execFileSync('mkfifo', [join(dir, `alm-${host}-${dead}-0000000a-1.spool`)]);
    mkdirSync(join(dir, `alm-${host}-${dead}-0000000b-1.spool`));
    const huge = join(dir, `alm-${host}-${dead}-0000000c-1.spool`);
    const fd = openSync(huge, 'w');
    ftruncateSync(fd, REPLAY_FILE_LIMIT + 1); // sparse
    closeSync(fd);
    writeFileSync(
      join(dir, `alm-${host}-${dead}-0000000d-1.spool`),
      [lines[0], '{"event_id":"x","event_type":"tool.request"}', ...lines.slice(1)].join('\n') + '\n',
    );
    const received: ALMEvent[] = [];
    const errors: Error[] = [];
    const next = new ALM({
      agentId: 'next',
      events: { sink: (b) => void received.push(...b), spoolDir: dir, shutdownTimeoutMs: 500, flushOnExit: false },
      onError: (e) => errors.push(e),
    });
    const started = Date.now();
    await next.shutdown();
    expect(Date.now() - started).toBeLessThan(5000);
    expect(received.map((e) => e.event_id)).toEqual(source.map((e) => e.event_id));
    expect(existsSync(huge)).toBe(true);
    expect(errors.map((e) => e.message)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^alm-otel spool: alm-.*-0000000c-1\.spool is \d+ bytes, over \d+: not replayed, left as it is$/,
        ),
        expect.stringMatching(/^alm-otel spool: skipped 1 torn or unreadable records in alm-.*-0000000d-1\.spool$/),
      ]),
    );
  }, 30_000);
});

describe('a spool shared by two PID namespaces (same hostname, both PID 1)', () => {
  it('a process starting in one does not claim the files of a live process in the other', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'alm-ns-'));
    const receiver = new Receiver();
    await receiver.start(0);
    const down = `http://127.0.0.1:${await freePort()}`;
    const start = (label: string, scope: string, endpoint: string, runs: number) => {
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          join(ROOT, 'test/fixtures/scripts/spool-namespace.ts'),
          dir,
          endpoint,
          label,
          scope,
          String(runs),
        ],
        { cwd: ROOT },
      );
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      const ready = new Promise<void>((resolve) =>
        child.stdout.on('data', () => stdout.includes('ready') && resolve()),
      );
      const exited = new Promise<string>((resolve) => child.on('exit', () => resolve(stdout)));
      return { child, ready, exited };
    };
    try {
      const a = start('a', 'ns-a', down, 50); // receiver down for a: its events stay in its files
      await a.ready;
      const filesOfA = spoolFiles(dir);
      expect(filesOfA.length).toBeGreaterThan(0);
      const b = start('b', 'ns-b', receiver.url, 1);
      await b.ready;
      b.child.stdin.end();
      await b.exited;
      // b delivered its own run only; a's files are where a left them.
      const agents = new Set([...receiver.events.values()].map((e) => e.agent_id));
      expect(agents).toEqual(new Set(['ns-b']));
      expect(receiver.events.size).toBe(5);
      for (const name of filesOfA) expect(existsSync(join(dir, name))).toBe(true);
      a.child.stdin.end();
      await a.exited;
    } finally {
      await receiver.stop();
    }
  }, 60_000);

  it('a live process takes over the files of an owner in the other once its heartbeat is 30 s old, without a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'alm-ns-'));
    const receiver = new Receiver();
    await receiver.start(0);
    const down = `http://127.0.0.1:${await freePort()}`;
    /** Files an ALM leaves with the receiver down (written elsewhere, then moved into dir). */
    async function leftBy(agentId: string, runs: number): Promise<string> {
      const elsewhere = mkdtempSync(join(tmpdir(), 'alm-ns-left-'));
      const alm = new ALM({
        agentId,
        events: { sink: 'http', endpoint: down, spoolDir: elsewhere, shutdownTimeoutMs: 20, flushOnExit: false },
        onError: () => {},
      });
      const t = alm.tool('t', (i: number) => i);
      for (let r = 0; r < runs; r++) alm.run(() => t(r));
      await alm.shutdown();
      return elsewhere;
    }
    const delivered = (agentId: string) => [...receiver.events.values()].filter((e) => e.agent_id === agentId).length;
    spoolTestSeam.identity = { pid: 1, scope: 'ns-other' };
    const other = await leftBy('ns-other', 3);
    spoolTestSeam.identity = undefined;
    // A dead owner in this process's own scope: its files replay at the first look.
    const probe = await leftBy('probe', 1);
    spoolTestSeam.rescanMs = 20;
    const live = new ALM({
      agentId: 'live',
      events: { sink: 'http', endpoint: receiver.url, spoolDir: dir, flushOnExit: false },
      onError: () => {},
    });
    try {
      // Its first look is done once its first segment is open.
      for (let i = 0; i < 1000 && spoolFiles(dir).length === 0; i++) await sleep(10);
      expect(spoolFiles(dir)).toHaveLength(1);
      const otherFiles = spoolFiles(other);
      expect(otherFiles.length).toBeGreaterThan(0);
      const [, , pid, token] = /^alm-(.+)-(\d+)-([0-9a-f]{8})-\d+\.spool$/.exec(otherFiles[0]!)!;
      expect(pid).toBe('1');
      // The other container's heartbeat, fresh: its owner is alive.
      const heartbeat = join(dir, `alm-${host}-1-${token}.live`);
      writeFileSync(heartbeat, JSON.stringify({ scope: 'ns-other' }));
      for (const name of otherFiles) renameSync(join(other, name), join(dir, name));
      for (const name of spoolFiles(probe)) renameSync(join(probe, name), join(dir, name));
      // A rescan after both were there claimed the probe's files, and left the live owner's alone.
      for (let i = 0; i < 1000 && delivered('probe') === 0; i++) await sleep(10);
      expect(delivered('probe')).toBeGreaterThan(0);
      expect(delivered('ns-other')).toBe(0);
      for (const name of otherFiles) expect(existsSync(join(dir, name))).toBe(true);
      // Its heartbeat goes stale: the owner is gone, and the running process delivers its files.
      const old = new Date(Date.now() - 60_000);
      utimesSync(heartbeat, old, old);
      for (let i = 0; i < 1000 && delivered('ns-other') < 15; i++) await sleep(10);
      expect(delivered('ns-other')).toBe(15);
      await live.shutdown();
      expect(spoolFiles(dir)).toEqual([]);
      expect(live.stats()).toMatchObject({ failed: 0, dropped: 0, queued: 0 });
    } finally {
      spoolTestSeam.rescanMs = undefined;
      await live.shutdown();
      await receiver.stop();
    }
  }, 60_000);
});
