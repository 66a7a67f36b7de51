import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALM, type ALMEvent } from '../../src';
import { validated } from '../helpers/harness';
import { runTsx } from '../helpers/scripts';

function readEvents(path: string): ALMEvent[] {
  return readFileSync(path, 'utf8')
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as ALMEvent);
}

describe('file sink', () => {
  it('appends one JSON event per line, after what the file already holds', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'alm-file-')), 'events.jsonl');
    for (let round = 0; round < 2; round++) {
      const alm = new ALM({ agentId: 'filer', events: { sink: 'file', path, flushOnExit: false } });
      const t = alm.tool('t', () => round);
      alm.run(() => t());
      await alm.shutdown();
    }
    const events = validated(readEvents(path));
    expect(events.map((e) => e.event_type)).toEqual([
      ...['run.start', 'tool.request', 'policy.decision', 'tool.response', 'run.end'],
      ...['run.start', 'tool.request', 'policy.decision', 'tool.response', 'run.end'],
    ]);
  });

  it('is safe when two processes append to the same file at once', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'alm-file-')), 'shared.jsonl');
    const outputs = await Promise.all([0, 1].map(() => runTsx('test/fixtures/scripts/append-events.ts', [path, '60'])));
    const emitted = outputs.map((o) => (JSON.parse(o.stdout) as { emitted: number }).emitted);
    const events = validated(readEvents(path)); // every line parses: no interleaving
    expect(events).toHaveLength(emitted[0]! + emitted[1]!);
    expect(new Set(events.map((e) => e.event_id)).size).toBe(events.length);
    expect(new Set(events.map((e) => e.agent_id)).size).toBe(2);
  }, 60_000);

  it('keeps retrying while the file cannot be opened, and delivers once it can', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'alm-file-')), 'not-yet');
    const path = join(dir, 'events.jsonl');
    const errors: Error[] = [];
    const alm = new ALM({
      agentId: 'filer',
      events: { sink: 'file', path, flushOnExit: false, retryInitialDelayMs: 10, retryMaxDelayMs: 50 },
      onError: (error) => errors.push(error),
    });
    const t = alm.tool('t', () => 1);
    alm.run(() => t());
    await alm.flush(); // the directory does not exist yet
    expect(alm.stats()).toMatchObject({ delivered: 0, queued: 5 });
    expect(errors[0]!.message).toMatch(/^appending to .*events\.jsonl failed: .*ENOENT.*retrying with backoff/);
    mkdirSync(dir);
    await alm.shutdown();
    expect(alm.stats().retried).toBeGreaterThan(0);
    expect(validated(readEvents(path))).toHaveLength(5);
  });
});
