/**
 * The CLI under hostile sizes and shapes, as the built command (dist/cli/index.cjs, built by jest's
 * globalSetup) run in a child process: files far larger than the memory a run needs, a 100 MB line,
 * files rotated, truncated and rewritten under `tail`, OTLP nested 20,000 deep, an 8,000-span chain,
 * and spans that are each other's parents.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  appendFileSync,
  closeSync,
  createReadStream,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ALMEvent } from '../../src';
import { createTestALM } from '../../src/testing';
import { eventLines, ROOT } from '../helpers/scripts';

jest.setTimeout(120_000);

const CLI = join(ROOT, 'dist', 'cli', 'index.cjs');
let dir: string;
/** Prints the process's peak RSS (KiB) on stderr at exit: loaded with --require. */
let rssProbe: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'alm-cli-streams-'));
  rssProbe = join(dir, 'rss.cjs');
  writeFileSync(
    rssProbe,
    "process.on('exit', () => require('fs').writeSync(2, `\\nmaxrss ${process.resourceUsage().maxRSS}\\n`));",
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Peak resident memory, MiB. */
  rssMb: number;
}

const children: ChildProcessWithoutNullStreams[] = [];
afterAll(() => children.forEach((child) => child.kill('SIGKILL')));

function start(args: string[]): ChildProcessWithoutNullStreams {
  const child = spawn(process.execPath, ['--require', rssProbe, CLI, ...args], {
    env: { ...process.env, NO_COLOR: '1' },
  });
  children.push(child);
  return child;
}

function cli(args: string[], options: { input?: string; stdinFile?: string } = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = start(args);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const rss = /\nmaxrss (\d+)\n$/.exec(stderr);
      resolve({
        code,
        stdout,
        stderr: rss ? stderr.slice(0, rss.index) : stderr,
        rssMb: rss ? Number(rss[1]) / 1024 : NaN,
      });
    });
    if (options.stdinFile !== undefined) createReadStream(options.stdinFile).pipe(child.stdin);
    else child.stdin.end(options.input ?? '');
  });
}

/** A real run's events, from the test helpers' in-memory ALM: calls with and without a denial. */
async function recordRun(agentId = 'stream-agent'): Promise<ALMEvent[]> {
  const alm = createTestALM({ agentId, policy: { deniedTools: ['rm'] } });
  const read = alm.tool('read_file', (path: string) => `contents of ${path}`);
  const rm = alm.tool('rm', () => 'gone');
  await alm.run(async () => {
    await alm.task({ type: 'work' }, async () => {
      read('a.txt');
      try {
        rm();
      } catch {
        // denied
      }
    });
  });
  const events = await alm.events();
  await alm.shutdown();
  return events;
}

/** The same run again under fresh ids, so that a file holds many distinct runs. */
function renumbered(events: ALMEvent[]): string {
  let text = events.map((e) => JSON.stringify(e)).join('\n') + '\n';
  const ids = new Set<string>();
  for (const e of events) {
    ids.add(e.run_id!);
    ids.add(e.event_id);
    const m = e.metadata as Record<string, unknown>;
    if (typeof m.task_id === 'string') ids.add(m.task_id);
  }
  for (const id of ids) text = text.replaceAll(id, randomUUID());
  return text;
}

describe('validate and tree stream their input', () => {
  let big: string;
  let runs = 0;
  let lines = 0;

  // ~200 MB of valid events: runs whose tool calls carry 64 KiB of arguments each.
  beforeAll(async () => {
    const events = await recordRun();
    const request = events.find((e) => e.event_type === 'tool.request')!;
    (request.metadata as { args: unknown }).args = { inputs: { blob: randomBytes(48 * 1024).toString('base64') } };
    big = join(dir, 'big.jsonl');
    const fd = openSync(big, 'w');
    let bytes = 0;
    while (bytes < 200 * 1024 * 1024) {
      const text = renumbered(events);
      writeSync(fd, text);
      bytes += Buffer.byteLength(text);
      runs++;
      lines += events.length;
    }
    closeSync(fd);
  });

  it('validates a file much larger than the memory it uses', async () => {
    const result = await cli(['validate', big]);
    expect(result.stderr).toBe('');
    expect([result.code, result.stdout.trim()]).toEqual([0, `ok: ${lines} valid events`]);
    expect(result.rssMb).toBeLessThan(150); // the file is 200 MB
  });

  it('validates the same through stdin', async () => {
    const result = await cli(['validate', '-'], { stdinFile: big });
    expect([result.code, result.stdout.trim()]).toEqual([0, `ok: ${lines} valid events`]);
    expect(result.rssMb).toBeLessThan(150);
  });

  it('draws every run of it, holding only the runs still open', async () => {
    const result = await cli(['tree', big]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout.match(/^run /gm)).toHaveLength(runs);
    expect(result.stdout.match(/⊘ rm {2}DENIED/g)).toHaveLength(runs);
    expect(result.rssMb).toBeLessThan(150);
  });

  it('keeps the order of first appearance when runs interleave', async () => {
    const [a, b] = [renumbered(await recordRun('agent-a')), renumbered(await recordRun('agent-b'))].map((t) =>
      t.trimEnd().split('\n'),
    );
    // b starts after a and ends before it.
    const mixed = [a![0], ...b!, ...a!.slice(1)].join('\n');
    const result = await cli(['tree', '-'], { input: mixed });
    expect(result.code).toBe(0);
    const heads = result.stdout.split('\n').filter((l) => l.startsWith('run '));
    expect(heads.map((h) => h.split('  ')[1])).toEqual(['agent-a (development)', 'agent-b (development)']);
  });

  it('skips a line longer than --max-line-mb with a notice, and goes on', async () => {
    const events = renumbered(await recordRun())
      .trimEnd()
      .split('\n');
    const text = [events[0], `{"x":"${'a'.repeat(3 * 1024 * 1024)}"}`, ...events.slice(1)].join('\n');
    const result = await cli(['validate', '-', '--max-line-mb', '1'], { input: text });
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('line 2: (line): longer than --max-line-mb 1 (3.0 MiB); skipped');
    expect(result.stderr.trim()).toBe(`1 invalid line, ${events.length} valid events`);
  });
});

describe('convert', () => {
  it('writing to an unwritable path is a one-line error, not a stack trace', async () => {
    const fixture = join(ROOT, 'test', 'fixtures', 'otlp', 'collector-file-exporter.jsonl');
    const result = await cli(['convert', fixture, '-o', join(dir, 'no-such-dir', 'out.jsonl')]);
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim()).toBe(
      `alm-otel convert: cannot write ${join(dir, 'no-such-dir', 'out.jsonl')}: ENOENT`,
    );
  });

  /** The recorded toy run's spans: its invoke_agent span and its first task span, as OTLP/JSON. */
  function recordedSpans(): { run: Record<string, any>; task: Record<string, any>; doc: Record<string, any> } {
    const fixture = join(ROOT, 'test', 'fixtures', 'otlp', 'collector-file-exporter.jsonl');
    const docs = readFileSync(fixture, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const spans = docs.flatMap((d) =>
      d.resourceSpans.flatMap((rs: any) => rs.scopeSpans.flatMap((ss: any) => ss.spans)),
    );
    const run = spans.find((s: any) => s.name.startsWith('invoke_agent'));
    const task = spans.find((s: any) => s.name.startsWith('task '));
    return { run, task, doc: docs[0] };
  }

  function document(doc: Record<string, any>, spans: unknown[]): string {
    const rs = doc.resourceSpans[0];
    return JSON.stringify({ resourceSpans: [{ ...rs, scopeSpans: [{ ...rs.scopeSpans[0], spans }] }] });
  }

  function spanId(i: number): string {
    return i.toString(16).padStart(16, '0');
  }

  function taskSpan(task: Record<string, any>, id: string, parent: string): Record<string, any> {
    return {
      ...task,
      spanId: id,
      parentSpanId: parent,
      attributes: task.attributes.map((kv: any) =>
        kv.key === 'alm.task.id' ? { key: kv.key, value: { stringValue: randomUUID() } } : kv,
      ),
    };
  }

  it('converts an 8,000-span parent chain', async () => {
    const { run, task, doc } = recordedSpans();
    const spans: Record<string, any>[] = [{ ...run, spanId: spanId(1) }];
    for (let i = 2; i <= 8001; i++) spans.push(taskSpan(task, spanId(i), spanId(i - 1)));
    const result = await cli(['convert', '-'], { input: document(doc, spans) });
    expect(result.stderr).toContain('8001 spans, 16002 events');
    expect(result.code).toBe(0);
    const events = eventLines(result.stdout);
    // Nested: every task starts before any ends, then they end innermost first.
    expect(events.slice(1, 8001).every((e) => e.event_type === 'task.start')).toBe(true);
    expect(events.slice(8001, 16001).every((e) => e.event_type === 'task.end')).toBe(true);
    expect(events.at(-1)!.event_type).toBe('run.end');
  });

  it('names an attribute nested 20,000 deep instead of overflowing the stack', async () => {
    const { run, doc } = recordedSpans();
    const depth = 20_000;
    const value =
      '{"kvlistValue":{"values":[{"key":"k","value":'.repeat(depth) + '{"stringValue":"x"}' + '}]}}'.repeat(depth);
    const span = JSON.stringify({ ...run, attributes: [{ key: 'deep', value: '__DEEP__' }] }).replace(
      '"__DEEP__"',
      value,
    );
    const text = document(doc, []).replace('"spans":[]', `"spans":[${span}]`);
    const result = await cli(['convert', '-'], { input: text });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^alm-otel convert: document: resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[0\]\.attributes\[0\]\.value(\.kvlistValue\.values\[0\]\.value){33}: attribute value nested deeper than 32 levels\n$/,
    );
    expect(result.stderr).not.toContain('RangeError');
  });

  it("reports spans that are each other's parents, and converts them", async () => {
    const { run, task, doc } = recordedSpans();
    const a = taskSpan(task, spanId(0xa), spanId(0xb));
    const b = taskSpan(task, spanId(0xb), spanId(0xa));
    const result = await cli(['convert', '-'], { input: document(doc, [{ ...run, spanId: spanId(1) }, a, b]) });
    expect(result.code).toBe(1);
    const traceId = run.traceId.toLowerCase();
    expect(result.stderr).toContain(
      `2 spans are in (or under) a parent cycle, each other's ancestors (trace/span: ${traceId}/${spanId(0xa)}, ${traceId}/${spanId(0xb)})`,
    );
    const events = eventLines(result.stdout);
    expect(events.filter((e) => e.event_type === 'task.start')).toHaveLength(2);
    expect(events.filter((e) => e.event_type === 'task.end')).toHaveLength(2);
  });
});

describe('tail', () => {
  /** Follows a file; resolves waits on its output. */
  function follow(file: string, extra: string[] = []) {
    const child = start(['tail', file, '--poll-ms', '50', ...extra]);
    child.stdin.end();
    let stdout = '';
    let stderr = '';
    const waiters: { done: () => boolean; resolve: () => void }[] = [];
    const check = () => {
      for (const w of waiters.filter((w) => w.done())) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    };
    child.stdout.setEncoding('utf8').on('data', (d: string) => ((stdout += d), check()));
    child.stderr.setEncoding('utf8').on('data', (d: string) => ((stderr += d), check()));
    return {
      get stdout() {
        return stdout;
      },
      get stderr() {
        return stderr;
      },
      runs: () => stdout.match(/^run [0-9a-f-]+/gm)?.map((r) => r.slice(4)) ?? [],
      until: (done: () => boolean) =>
        new Promise<void>((resolve) => (done() ? resolve() : waiters.push({ done, resolve }))),
      stop: () => child.kill('SIGTERM'),
    };
  }

  let run: ALMEvent[];
  beforeAll(async () => {
    run = await recordRun();
  });
  /** `n` distinct runs as JSON lines, and their run ids. */
  function runs(n: number): { text: string; ids: string[] } {
    const texts = Array.from({ length: n }, () => renumbered(run));
    return { text: texts.join(''), ids: texts.map((t) => (JSON.parse(t.split('\n')[0]!) as ALMEvent).run_id!) };
  }

  /**
   * `before` runs in a file followed by tail; then `change` alters the file and returns the runs it
   * expects next. Resolves with the follower once every run has been drawn, in order.
   */
  async function through(name: string, before: number, change: (file: string) => string[]) {
    const file = join(dir, name);
    const first = runs(before);
    writeFileSync(file, first.text);
    const tail = follow(file);
    try {
      await tail.until(() => tail.runs().length === before);
      const expected = [...first.ids, ...change(file)];
      await tail.until(() => tail.runs().length === expected.length);
      expect(tail.runs()).toEqual(expected);
      expect(tail.stderr).not.toContain('not JSON');
      return { file, stderr: tail.stderr };
    } finally {
      tail.stop();
    }
  }

  it('reads a rotated file from its start, even when the new file is already longer', async () => {
    const { file, stderr } = await through('rotated.jsonl', 2, (file) => {
      // Rotation: the file is renamed away, and a new, longer one takes its name at once.
      const second = runs(8);
      renameSync(file, `${file}.1`);
      writeFileSync(file, second.text);
      return second.ids;
    });
    expect(stderr).toContain(`${file} was replaced (rotated); reading it from the start`);
  });

  it('reads the old file to its end before the new one', async () => {
    await through('rotated-late.jsonl', 1, (file) => {
      const late = runs(1);
      const second = runs(2);
      // The writer's last lines, then the rotation: whether tail sees the growth first or the rotation
      // first, none of the old file's lines is lost.
      appendFileSync(file, late.text);
      renameSync(file, `${file}.1`);
      writeFileSync(file, second.text);
      return [...late.ids, ...second.ids];
    });
  });

  it('starts over when the file is rewritten in place past what was read', async () => {
    const { file, stderr } = await through('rewritten.jsonl', 2, (file) => {
      // Same inode, never shorter than what was read: only its first bytes tell.
      const second = runs(8);
      const fd = openSync(file, 'r+');
      writeSync(fd, second.text, 0);
      closeSync(fd);
      return second.ids;
    });
    expect(stderr).toContain(`${file} was rewritten (its first bytes changed); reading it from the start`);
  });

  it('skips a 100 MB line with a notice and draws the next run at once', async () => {
    const file = join(dir, 'long-line.jsonl');
    writeFileSync(file, '');
    const tail = follow(file);
    try {
      const fd = openSync(file, 'a');
      const chunk = Buffer.alloc(1024 * 1024, 'a');
      for (let i = 0; i < 100; i++) writeSync(fd, chunk);
      const next = runs(1);
      writeSync(fd, '\n' + next.text);
      closeSync(fd);
      const written = Date.now();
      await tail.until(() => tail.runs().length === 1);
      expect(Date.now() - written).toBeLessThan(15_000);
      expect(tail.runs()).toEqual(next.ids);
      // stderr is another pipe: the notice, written first, may still arrive after the run is drawn.
      await tail.until(() => tail.stderr.includes('longer than --max-line-mb'));
      expect(tail.stderr).toContain('line 1: (line): longer than --max-line-mb 64 (100.0 MiB); skipped');
    } finally {
      tail.stop();
    }
  });
});
