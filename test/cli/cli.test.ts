/**
 * The `alm-otel` CLI as users run it: the package built with its build config, installed by npm into
 * a throwaway application (so the `bin` link is npm's), and run as a child process on real files: the
 * toy example's own output, a hand-broken copy of it, and OTLP/JSON that a real OpenTelemetry SDK
 * exporter sent over HTTP.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ALMEvent } from '../../src';
import { createTestALM } from '../../src/testing';
import { ofType } from '../helpers/harness';
import { appFile, installPackage, runBin, spawnBin, type InstalledPackage } from '../helpers/package';
import { eventLines, ROOT, runTsx } from '../helpers/scripts';
import { execFile } from 'node:child_process';

jest.setTimeout(60_000);

let pkg: InstalledPackage;
/** The toy agent's output, as `npm run --silent example` prints it. */
let toyText: string;
let toyFile: string;

function npmRunExample(): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile('npm', ['run', '--silent', 'example'], { cwd: ROOT, timeout: 120_000 }, (error, stdout) =>
      error ? reject(error) : resolve(stdout),
    ),
  );
}

beforeAll(async () => {
  [pkg, toyText] = await Promise.all([installPackage(), npmRunExample()]);
  toyFile = appFile(pkg, 'toy.jsonl', toyText);
}, 300_000);
afterAll(() => pkg?.remove());

const ESC = '\u001b[';

describe('alm-otel (the installed binary)', () => {
  it.each(['tree', 'validate', 'convert', 'tail'])('%s --help prints its usage and exits 0', async (command) => {
    const { code, stdout } = await runBin(pkg, [command, '--help']);
    expect(code).toBe(0);
    expect(stdout).toContain(`Usage: alm-otel ${command}`);
    expect(stdout).toContain('--help');
  });

  it('without a command prints the commands and exits 2; --help exits 0', async () => {
    const none = await runBin(pkg, []);
    expect(none.code).toBe(2);
    for (const command of ['tree', 'validate', 'convert', 'tail']) expect(none.stdout).toContain(command);
    expect((await runBin(pkg, ['--help'])).code).toBe(0);
    expect((await runBin(pkg, ['--version'])).stdout.trim()).toBe(
      JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version,
    );
  });

  it('usage errors exit 2 and say what is wrong', async () => {
    const unknown = await runBin(pkg, ['draw', 'x']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'draw'");
    const option = await runBin(pkg, ['tree', '--colour', toyFile]);
    expect(option.code).toBe(2);
    expect(option.stderr).toContain('--colour');
    const missing = await runBin(pkg, ['validate', 'no-such-file.jsonl']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read no-such-file.jsonl: ENOENT');
    const noFile = await runBin(pkg, ['tree']);
    expect(noFile.code).toBe(2);
    expect(noFile.stderr).toContain('missing the file');
  });

  describe('tree', () => {
    it("draws the toy agent's run from `npm run example`'s output", async () => {
      const { code, stdout, stderr } = await runBin(pkg, ['tree', toyFile]);
      expect(stderr).toBe('');
      expect(code).toBe(0);
      const runId = eventLines(toyText)[0]!.run_id!;
      // The toy example's two runs, drawn one after the other: the reference's toy run, then model calls.
      const [toyRun, modelRun] = stdout.trimEnd().split('\n\n');
      const lines = toyRun!.split('\n');
      expect(lines[0]).toMatch(
        new RegExp(`^run ${runId}  toy-agent-1@0.0.1-toy \\(development\\)  "Toy agent smoke test"  ✓ success  \\d`),
      );
      expect(lines[1]).toBe('│ trace_id none (no tracer provider)');
      // Tasks in order, each with its tool calls nested under it.
      const shape = lines.slice(2, -1).map((l) => l.replace(/  \d[\d.]* m?s/g, '').replace(/  \d[\d.]* ms/g, ''));
      expect(shape).toEqual([
        '├─ task happy-path: Happy path tools  ✓',
        '│  ├─ ✓ safe_tool',
        '│  └─ ✓ slow_tool',
        '├─ task policy: Policy deny test  ✓',
        "│  └─ ⊘ dangerous_tool  DENIED  Tool 'dangerous_tool' is in denied_tools list",
        '├─ task errors: Error capture test  ✓',
        '│  └─ ✗ flaky_tool  ERROR  ConnectionError: Simulated connection timeout  (retryable)',
        '├─ task budget: Budget stop test  ✓',
        '│  ├─ ✓ safe_tool',
        '│  ├─ ✓ safe_tool',
        '│  ├─ ✓ safe_tool',
        '│  ├─ ✓ safe_tool',
        '│  ├─ ✓ safe_tool',
        '│  └─ ⊘ safe_tool  DENIED  Budget exceeded: 8/8 tool calls',
        '└─ → handoff to next-agent  Demonstrate handoff event emission',
      ]);
      expect(lines.at(-1)).toMatch(
        /^summary  10 tool calls \(8 allowed, 2 denied, 1 error, 0 retried\) · tasks 4 completed, 0 failed · 1 handoff · avg tool [\d.]+ ms, avg policy [\d.]+ ms$/,
      );
      expect(stdout).not.toContain(ESC); // not a terminal: no colour
      expect(modelRun!.split('\n').at(-1)).toMatch(
        /^summary  0 tool calls .* · 3 model calls \(3600 input, 900 output tokens, \$0\.00108\) · budget exceeded: cost \$0\.00108\/\$0\.001$/,
      );
      // The toy agent's model run passes its cost budget: the run's head line says so too.
      expect(modelRun!.split('\n')[0]).toContain('over budget');
    });

    it('reads stdin, colours when asked, and never when NO_COLOR is set', async () => {
      const piped = await runBin(pkg, ['tree', '-', '--color'], { input: toyText });
      expect(piped.code).toBe(0);
      expect(piped.stdout).toContain(`${ESC}31m`); // the failed call in red
      expect(piped.stdout.replace(/\u001b\[\d+m/g, '')).toBe((await runBin(pkg, ['tree', toyFile])).stdout);
      const forced = await runBin(pkg, ['tree', toyFile], { env: { FORCE_COLOR: '1' } });
      expect(forced.stdout).toContain(ESC);
      const noColor = await runBin(pkg, ['tree', toyFile], { env: { FORCE_COLOR: '1', NO_COLOR: '1' } });
      expect(noColor.stdout).not.toContain(ESC);
    });

    it('marks retried attempts and monitor-mode violations', async () => {
      const alm = createTestALM({ agentId: 'retry-agent', policy: { deniedTools: ['risky'], mode: 'monitor' } });
      let calls = 0;
      const flaky = alm.tool(
        'flaky',
        () => {
          if (++calls < 3) throw Object.assign(new Error('busy'), { status: 503 });
          return 'ok';
        },
        { retry: { initialDelayMs: 0 } },
      );
      const risky = alm.tool('risky', () => 'done anyway');
      await alm.run(async () => [await flaky(), risky()]);
      const events = await alm.events();
      await alm.shutdown();
      const file = appFile(pkg, 'retries.jsonl', events.map((e) => JSON.stringify(e)).join('\n'));
      const { code, stdout } = await runBin(pkg, ['tree', file]);
      expect(code).toBe(0);
      const lines = stdout.split('\n').map((l) => l.replace(/  [\d.]+ m?s/g, ''));
      expect(lines.filter((l) => l.includes('flaky') || l.includes('risky'))).toEqual([
        '├─ ✗ flaky  ERROR  Error: busy  (retryable)',
        '├─ ✗ flaky  ERROR  Error: busy  (retryable)  attempt 2',
        '├─ ✓ flaky  attempt 3',
        "└─ ✓ risky  (policy violation, not blocked: Tool 'risky' is in denied_tools list)",
      ]);
      expect(stdout).toContain('summary  4 tool calls (3 allowed, 1 denied, 2 error, 2 retried)');
    });

    it('reports bad lines with their number, still draws the rest, and exits 1', async () => {
      const file = appFile(pkg, 'with-noise.jsonl', `> alm-otel@0.1.0 example\n${toyText}`);
      const { code, stdout, stderr } = await runBin(pkg, ['tree', file]);
      expect(code).toBe(1);
      expect(stderr).toContain('line 1: (line): not JSON');
      expect(stdout).toContain('task happy-path');
      const empty = await runBin(pkg, ['tree', appFile(pkg, 'empty.jsonl', '\n')]);
      expect(empty.code).toBe(1);
      expect(empty.stderr).toContain('no ALM events');
    });
  });

  describe('validate', () => {
    it("accepts the toy agent's output", async () => {
      const { code, stdout } = await runBin(pkg, ['validate', toyFile]);
      expect(code).toBe(0);
      expect(stdout.trim()).toBe(`ok: ${eventLines(toyText).length} valid events`);
    });

    it('rejects a hand-broken event, naming the line and the field', async () => {
      const lines = toyText.trimEnd().split('\n');
      const at = lines.findIndex((l) => l.includes('"tool.response"'));
      const broken = JSON.parse(lines[at]!) as ALMEvent & { metadata: Record<string, unknown> };
      broken.metadata.status = 'exploded';
      delete broken.metadata.tool_call_id;
      lines[at] = JSON.stringify(broken);
      lines[1] = lines[1]!.slice(0, -3); // cut short: not JSON any more
      const file = appFile(pkg, 'broken.jsonl', lines.join('\n') + '\n');
      const { code, stdout, stderr } = await runBin(pkg, ['validate', file]);
      expect(code).toBe(1);
      expect(stdout).toContain('line 2: (line): not JSON');
      expect(stdout).toContain(
        `line ${at + 1}: metadata.status: Invalid option: expected one of "success"|"denied"|"error" (tool.response)`,
      );
      expect(stdout).toContain(`line ${at + 1}: metadata.tool_call_id:`);
      expect(stdout.trim().split('\n')).toHaveLength(3);
      expect(stderr.trim()).toBe(`2 invalid lines, ${lines.length - 2} valid events`);
    });

    it('names an unknown field, and reads stdin', async () => {
      const event = JSON.parse(toyText.split('\n')[0]!) as Record<string, unknown>;
      event.traceId = 'x';
      const { code, stdout } = await runBin(pkg, ['validate', '-'], { input: `\n${JSON.stringify(event)}\n` });
      expect(code).toBe(1);
      expect(stdout).toContain('line 2: traceId: unknown field (run.start)');
    });
  });

  describe('convert', () => {
    let server: Server;
    let otlpFile: string;
    let liveEvents: ALMEvent[];

    // The toy agent under a real NodeSDK exporting OTLP/HTTP (JSON) to a local receiver; each request
    // body is one line of the file, as the collector's file exporter writes them.
    beforeAll(async () => {
      const bodies: string[] = [];
      server = createServer((req, res) => {
        let body = '';
        req.on('data', (chunk) => (body += chunk));
        req.on('end', () => {
          if (req.url === '/v1/traces') bodies.push(JSON.stringify(JSON.parse(body)));
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      const { stdout } = await runTsx('examples/existing-otel-setup.ts', [], {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
        OTEL_SERVICE_NAME: 'toy-service',
      });
      liveEvents = eventLines(stdout);
      otlpFile = appFile(pkg, 'otlp.jsonl', bodies.join('\n') + '\n');
    }, 120_000);
    afterAll(() => new Promise((resolve) => server.close(resolve)));

    /** What both paths must agree on: everything but ids, times and latencies (spans do not carry them all). */
    function comparable(events: ALMEvent[]): unknown[] {
      return events
        .map((e) => {
          const metadata = { ...(e.metadata as Record<string, unknown>) };
          for (const key of Object.keys(metadata)) if (key.includes('latency')) delete metadata[key];
          delete metadata.args; // tool content stays off spans unless captureToolContent
          delete metadata.result;
          if (e.event_type === 'run.end') delete (metadata.summary as Record<string, unknown>).latencies;
          return { type: e.event_type, run: e.run_id, trace: e.trace_id, span: e.span_id, agent: e.agent_id, metadata };
        })
        .sort((a, b) => `${a.span}${a.type}`.localeCompare(`${b.span}${b.type}`));
    }

    it('turns OTLP/JSON into the same events ALM emitted live, which validate and tree accept', async () => {
      const converted = await runBin(pkg, ['convert', otlpFile]);
      expect(converted.code).toBe(0);
      const events = eventLines(converted.stdout); // each one parsed with ALMEventSchema
      expect(converted.stderr).toContain(`${events.length} events`);
      expect(comparable(events)).toEqual(comparable(liveEvents));
      // In time order, as alm-otel emits them.
      expect(events[0]!.event_type).toBe('run.start');
      expect(events.at(-1)!.event_type).toBe('run.end');
      expect(ofType(events, 'run.end')[0]!.metadata.summary.tool_calls).toEqual({
        total: 10,
        allowed: 8,
        denied: 2,
        error: 1,
        retried: 0,
      });

      const file = appFile(pkg, 'converted.jsonl', converted.stdout);
      const validated = await runBin(pkg, ['validate', file]);
      expect([validated.code, validated.stdout.trim()]).toEqual([0, `ok: ${events.length} valid events`]);
      const tree = await runBin(pkg, ['tree', file]);
      expect(tree.code).toBe(0);
      const traceId = events[0]!.trace_id!;
      expect(tree.stdout).toContain(`│ trace_id ${traceId}  http://localhost:16686/trace/${traceId}`);
      expect(tree.stdout).toContain("⊘ dangerous_tool  DENIED  Tool 'dangerous_tool' is in denied_tools list");
      expect(tree.stdout).toContain('summary  10 tool calls (8 allowed, 2 denied, 1 error, 0 retried)');
    });

    it("converts a real collector's file exporter output into the events the run emitted live", async () => {
      // Recorded by test/fixtures/otlp/record.sh: the toy agent under NodeSDK, exporting OTLP/HTTP to an
      // OpenTelemetry Collector 0.162 whose file exporter wrote the traces.
      const fixture = join(ROOT, 'test', 'fixtures', 'otlp');
      const live = eventLines(readFileSync(join(fixture, 'collector-file-exporter.events.jsonl'), 'utf8'));
      const converted = await runBin(pkg, ['convert', join(fixture, 'collector-file-exporter.jsonl')]);
      expect(converted.code).toBe(0);
      const events = eventLines(converted.stdout);
      expect(comparable(events)).toEqual(comparable(live));
      const validated = await runBin(pkg, ['validate', '-'], { input: converted.stdout });
      expect([validated.code, validated.stdout.trim()]).toEqual([0, 'ok: 41 valid events']);
    });

    it('writes to a file with -o, takes the envelope from options when no run span gives it', async () => {
      const out = join(pkg.app, 'out.jsonl');
      const { code } = await runBin(pkg, ['convert', otlpFile, '-o', out]);
      expect(code).toBe(0);
      const events = eventLines(readFileSync(out, 'utf8'));
      expect(new Set(events.map((e) => e.agent_id))).toEqual(new Set(['toy-agent-1']));
      // Tool spans alone (no run span): the options, then the resource's service.name.
      const toolsOnly = readFileSync(otlpFile, 'utf8')
        .trimEnd()
        .split('\n')
        .map((line) => {
          const doc = JSON.parse(line);
          for (const rs of doc.resourceSpans)
            for (const ss of rs.scopeSpans)
              ss.spans = ss.spans.filter((s: { name: string }) => s.name.startsWith('execute_tool'));
          return JSON.stringify(doc);
        });
      const file = appFile(pkg, 'tools-only.jsonl', toolsOnly.join('\n'));
      const fromResource = eventLines((await runBin(pkg, ['convert', file])).stdout);
      expect(new Set(fromResource.map((e) => e.agent_id))).toEqual(new Set(['toy-service']));
      const fromOptions = eventLines(
        (await runBin(pkg, ['convert', file, '--agent-id', 'a1', '--env', 'staging'])).stdout,
      );
      expect(new Set(fromOptions.map((e) => `${e.agent_id}/${e.env}`))).toEqual(new Set(['a1/staging']));
    });

    it('rejects input that is not OTLP/JSON, naming the line and the field', async () => {
      const lines = readFileSync(otlpFile, 'utf8').trimEnd().split('\n');
      const doc = JSON.parse(lines[0]!);
      doc.resourceSpans[0].scopeSpans[0].spans[1].traceId = 'xyz';
      const badId = await runBin(pkg, [
        'convert',
        appFile(pkg, 'bad-id.jsonl', [lines[0], JSON.stringify(doc)].join('\n')),
      ]);
      expect(badId.code).toBe(1);
      expect(badId.stderr).toContain(
        'line 2: resourceSpans[0].scopeSpans[0].spans[1].traceId: expected 32 hex characters',
      );
      expect(badId.stdout).toBe('');
      const notJson = await runBin(pkg, [
        'convert',
        appFile(pkg, 'not-json.jsonl', `${lines[0]}\n{"resourceSpans": [\n`),
      ]);
      expect([notJson.code, notJson.stderr]).toEqual([1, expect.stringContaining('line 2: not JSON')]);
      const events = await runBin(pkg, ['convert', toyFile]);
      expect([events.code, events.stderr]).toEqual([
        1,
        expect.stringContaining('line 1: expected an OTLP/JSON traces document'),
      ]);
      const foreign = await runBin(pkg, ['convert', '-'], {
        input: '{"resourceSpans":[{"scopeSpans":[{"spans":[]}]}]}',
      });
      expect([foreign.code, foreign.stderr]).toEqual([1, expect.stringContaining('none of the 0 spans')]);
    });
  });

  describe('tail', () => {
    it('follows a file as it grows, drawing each run when it ends', async () => {
      const file = join(pkg.app, 'growing.jsonl');
      const child = spawnBin(pkg, ['tail', file, '--poll-ms', '50']);
      let stdout = '';
      let stderr = '';
      const waiters: { done: () => boolean; resolve: () => void }[] = [];
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
        for (const w of waiters.filter((w) => w.done())) w.resolve();
      });
      // Resolves when the output satisfies `done` (the test's timeout is the only clock).
      const until = (done: () => boolean) =>
        new Promise<void>((resolve) => (done() ? resolve() : waiters.push({ done, resolve })));
      const runsDrawn = () => (stdout.match(/^summary /gm) ?? []).length;
      try {
        // The file does not exist yet; then a first run arrives in pieces, cut mid-line.
        const lines = toyText.trimEnd().split('\n');
        const cut = Math.floor(lines.length / 2);
        const half = lines.slice(0, cut).join('\n') + '\n' + lines[cut]!.slice(0, 40);
        writeFileSync(file, half);
        appendFileSync(file, lines[cut]!.slice(40) + '\n' + lines.slice(cut + 1).join('\n') + '\n');
        // The toy example makes two runs (its toy run, then its model calls).
        await until(() => runsDrawn() === 2);
        expect(stdout).toContain('└─ ⊘ safe_tool  DENIED  Budget exceeded: 8/8 tool calls');
        const first = stdout;
        expect(first.match(/^run /gm)).toHaveLength(2);

        // Another example's runs and an invalid line.
        const again = await npmRunExample();
        appendFileSync(file, 'not an event\n' + again);
        const secondRun = eventLines(again)[0]!.run_id!;
        await until(() => runsDrawn() === 4);
        expect(stdout.slice(first.length)).toMatch(new RegExp(`^run ${secondRun} `));
        expect(stderr).toContain(`line ${lines.length + 1}: (line): not JSON`);
      } finally {
        child.kill('SIGTERM');
      }
    }, 120_000);
  });
});
