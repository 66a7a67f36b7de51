/**
 * In-place compaction of a spool file (rewritePlan): the result holds exactly the kept lines, in order,
 * and a crash at any byte of any write (kill -9 tears a write between pages) leaves every kept line
 * in the file, whole, at least once. The plan is applied to a real file in a temp dir.
 */
import { closeSync, ftruncateSync, mkdtempSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rewritePlan } from '../../src/delivery/spool';

/** A deterministic pseudo-random sequence (so a failure can be replayed). */
function random(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
}

function sample(seed: number): { data: Buffer; lines: string[]; keep: string[] } {
  const rnd = random(seed);
  const lines: string[] = [];
  const count = 1 + Math.floor(rnd() * 40);
  for (let i = 0; i < count; i++) {
    lines.push(JSON.stringify({ event_id: `${seed}-${i}`, pad: 'é'.repeat(Math.floor(rnd() * 60)) }));
  }
  const keep = lines.filter(() => rnd() < 0.4);
  // Sometimes a torn last record (a crash mid-write of the earlier process).
  const tail = rnd() < 0.3 ? '{"event_id":"torn' : '';
  return { data: Buffer.from(lines.map((l) => l + '\n').join('') + tail), lines, keep };
}

const wholeLines = (data: Buffer) =>
  new Set(
    data
      .toString('utf8')
      .split('\n')
      .slice(0, -1)
      .filter((l) => l.trim() !== ''),
  );

describe('rewritePlan (in-place compaction of a replayed spool file)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'alm-rewrite-'));

  it.each(Array.from({ length: 60 }, (_, i) => i + 1))('seed %i: the file ends with exactly the kept lines', (seed) => {
    const { data, keep } = sample(seed);
    const path = join(dir, `s${seed}.spool`);
    writeFileSync(path, data);
    const plan = rewritePlan(readFileSync(path), new Set(keep));
    const fd = openSync(path, 'r+');
    for (const step of plan.steps) writeSync(fd, step.text, step.at, 'utf8');
    ftruncateSync(fd, plan.length);
    closeSync(fd);
    const result = readFileSync(path);
    expect(result.length).toBeLessThanOrEqual(data.length);
    // Lines of spaces fill gaps; the events are the kept ones, in order.
    expect(
      result
        .toString('utf8')
        .split('\n')
        .filter((l) => l.trim() !== ''),
    ).toEqual(keep);
    // No step writes past the old end (the file never grows).
    for (const step of plan.steps) expect(step.at + Buffer.byteLength(step.text)).toBeLessThanOrEqual(data.length);
  });

  it.each(Array.from({ length: 30 }, (_, i) => i + 100))(
    'seed %i: a crash at any byte of any write leaves every kept line whole in the file',
    (seed) => {
      const { data, keep } = sample(seed);
      const plan = rewritePlan(data, new Set(keep));
      const file = Buffer.from(data);
      for (const step of plan.steps) {
        const bytes = Buffer.from(step.text);
        for (let cut = 0; cut <= bytes.length; cut++) {
          const crashed = Buffer.from(file);
          bytes.copy(crashed, step.at, 0, cut);
          const present = wholeLines(crashed);
          expect(keep.filter((line) => !present.has(line))).toEqual([]);
        }
        bytes.copy(file, step.at);
      }
    },
  );

  it.each(Array.from({ length: 30 }, (_, i) => i + 200))(
    'seed %i: a power cut, losing any blocks written since the last fdatasync, leaves every kept line whole',
    (seed) => {
      const { data, keep } = sample(seed);
      const plan = rewritePlan(data, new Set(keep));
      const rnd = random(seed);
      const BLOCK = 16; // the disk's unit, scaled down with the lines
      let durable = Buffer.from(data);
      let unsynced: { at: number; bytes: Buffer }[] = [];
      const check = () => {
        for (let trial = 0; trial < 40; trial++) {
          const disk = Buffer.from(durable);
          for (const { at, bytes } of unsynced) {
            for (let b = Math.floor(at / BLOCK) * BLOCK; b < at + bytes.length; b += BLOCK) {
              if (rnd() < 0.5) continue; // this block never reached the disk
              const from = Math.max(b, at);
              const to = Math.min(b + BLOCK, at + bytes.length);
              bytes.copy(disk, from, from - at, to - at);
            }
          }
          const present = wholeLines(disk);
          expect(keep.filter((line) => !present.has(line))).toEqual([]);
        }
      };
      const sync = () => {
        for (const { at, bytes } of unsynced) bytes.copy(durable, at);
        unsynced = [];
      };
      for (const step of plan.steps) {
        if (step.syncFirst) sync();
        unsynced.push({ at: step.at, bytes: Buffer.from(step.text) });
        check();
      }
      sync();
      durable = durable.subarray(0, plan.length);
      expect(
        durable
          .toString('utf8')
          .split('\n')
          .filter((l) => l.trim() !== ''),
      ).toEqual(keep);
    },
  );
});
