/**
 * `alm-otel trace` against HTTP servers on 127.0.0.1: one that answers as Jaeger's api/v3 does (a
 * recorded answer: the toy agent's spans as the collector's file exporter wrote them, wrapped in
 * `{"result": ...}` as Jaeger wraps them), one that answers 404 as Jaeger does for an unknown trace,
 * one that is not Jaeger, and a port where nothing listens. The real Jaeger is in test/e2e/trace.e2e.test.ts.
 */
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../helpers/receiver';
import { ROOT } from '../helpers/scripts';

jest.setTimeout(60_000);

const CLI = join(ROOT, 'dist', 'cli', 'index.cjs');

function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { ...process.env, NO_COLOR: '1', ...env }, timeout: 50_000 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

/** The recorded trace as Jaeger's api/v3 answers it: one document, wrapped in {"result": ...}. */
const recorded = (() => {
  const docs = readFileSync(join(ROOT, 'test', 'fixtures', 'otlp', 'collector-file-exporter.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { resourceSpans: { scopeSpans: { spans: { traceId: string }[] }[] }[] });
  const traceId = docs[0]!.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.traceId.toLowerCase();
  return { traceId, answer: JSON.stringify({ result: { resourceSpans: docs.flatMap((d) => d.resourceSpans) } }) };
})();

let server: Server;
let jaeger: string;
const requests: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    if (req.url === `/api/v3/traces/${recorded.traceId}`) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(recorded.answer);
    } else if (req.url?.startsWith('/api/v3/traces/')) {
      res
        .writeHead(404, { 'content-type': 'application/json' })
        .end('{"error":{"httpCode":404,"message":"trace not found"}}');
    } else {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html>not jaeger</html>');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  jaeger = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

describe('alm-otel trace', () => {
  it("draws the trace Jaeger answers with, with each call's decision, as tree draws it", async () => {
    const { code, stdout, stderr } = await cli(['trace', recorded.traceId.toUpperCase(), '--jaeger', `${jaeger}/`]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(requests).toContain(`/api/v3/traces/${recorded.traceId}`);
    expect(stdout).toContain(`│ trace_id ${recorded.traceId}  ${jaeger}/trace/${recorded.traceId}`);
    expect(stdout).toContain("└─ ⊘ dangerous_tool  DENIED  Tool 'dangerous_tool' is in denied_tools list");
    expect(stdout).toContain('└─ ✗ flaky_tool  ERROR  ConnectionError: Simulated connection timeout');
    expect(stdout).toContain('└─ ⊘ safe_tool  DENIED  Budget exceeded: 8/8 tool calls');
    expect(stdout).toMatch(/^summary {2}10 tool calls \(8 allowed, 2 denied, 1 error, 0 retried\)/m);
    // The same picture as convert | tree.
    const converted = await cli(['convert', join(ROOT, 'test', 'fixtures', 'otlp', 'collector-file-exporter.jsonl')]);
    const file = join(ROOT, 'test', 'fixtures', 'otlp', 'collector-file-exporter.events.jsonl');
    void file;
    const tree = await new Promise<string>((resolve) => {
      const child = execFile(process.execPath, [CLI, 'tree', '-', '--jaeger-url', jaeger], (_e, out) => resolve(out));
      child.stdin!.end(converted.stdout);
    });
    expect(stdout).toBe(tree);
  });

  it('takes the Jaeger URL from ALM_OTEL_JAEGER_URL', async () => {
    const { code, stdout } = await cli(['trace', recorded.traceId, '--no-link'], { ALM_OTEL_JAEGER_URL: jaeger });
    expect(code).toBe(0);
    expect(stdout).toContain(`│ trace_id ${recorded.traceId}\n`);
  });

  it('says so when the trace is unknown', async () => {
    const unknown = '0123456789abcdef0123456789abcdef';
    const { code, stdout, stderr } = await cli(['trace', unknown, '--jaeger', jaeger]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(new RegExp(`^alm-otel trace: trace ${unknown} not found in Jaeger at ${jaeger} \\(`));
    expect(stderr.trim().split('\n')).toHaveLength(1);
  });

  it('says so when Jaeger cannot be reached, or is not Jaeger', async () => {
    const nobody = `http://127.0.0.1:${await freePort()}`;
    const refused = await cli(['trace', recorded.traceId, '--jaeger', nobody]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      new RegExp(
        `^alm-otel trace: cannot reach Jaeger at ${nobody} \\(ECONNREFUSED\\)\\. Is its query service running there\\?`,
      ),
    );
    expect(refused.stderr).not.toMatch(/\n\s+at /);
    const html = await cli(['trace', recorded.traceId, '--jaeger', `${jaeger}/ui`]);
    expect(html.code).toBe(1);
    expect(html.stderr).toContain('alm-otel trace: Jaeger at');
    expect(html.stderr).toContain('not JSON');
  });

  it('refuses a trace id that is not 32 hex characters, and a --jaeger that is not a URL', async () => {
    const bad = await cli(['trace', 'abc']);
    expect([bad.code, bad.stderr]).toEqual([2, expect.stringContaining('a trace id is 32 hex characters, got "abc"')]);
    const url = await cli(['trace', recorded.traceId, '--jaeger', 'localhost:16686']);
    expect(url.code).toBe(2);
    expect(url.stderr).toContain('--jaeger must be an http(s) URL');
  });

  it('--help names every option and needs nothing of this repository', async () => {
    const { code, stdout } = await cli(['trace', '--help']);
    expect(code).toBe(0);
    for (const option of ['--jaeger', 'ALM_OTEL_JAEGER_URL', '--timeout-ms', '--llm-events', '--no-link', '--ids']) {
      expect(stdout).toContain(option);
    }
    for (const command of ['tree', 'validate', 'convert', 'tail', 'trace']) {
      expect((await cli([command, '--help'])).stdout).not.toContain('npm run');
    }
  });
});
