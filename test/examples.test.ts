/**
 * The examples run as a user runs them (tsx, child processes). The NodeSDK example exports OTLP/HTTP
 * to a real HTTP receiver on 127.0.0.1, which checks what arrives.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { ALMEvent } from '../src';
import { normalOutput } from './helpers/docs';
import { ofType } from './helpers/harness';
import { eventLines, ROOT, runTsx } from './helpers/scripts';

async function example(
  file: string,
  env: Record<string, string> = {},
): Promise<{ events: ALMEvent[]; stderr: string }> {
  const { stdout, stderr } = await runTsx(`examples/${file}`, [], env);
  return { events: eventLines(stdout), stderr };
}

function checkToyRun(events: ALMEvent[]): void {
  expect(events[0]!.event_type).toBe('run.start');
  expect(events.at(-1)!.event_type).toBe('run.end');
  const responses = ofType(events, 'tool.response');
  expect(responses.find((e) => e.metadata.tool_name === 'dangerous_tool')!.metadata.status).toBe('denied');
  expect(responses.find((e) => e.metadata.tool_name === 'flaky_tool')!.metadata.error).toMatchObject({
    type: 'ConnectionError',
    retryable: true,
  });
  expect(ofType(events, 'policy.decision').at(-1)!.metadata.reason).toBe('Budget exceeded: 8/8 tool calls');
  expect(ofType(events, 'handoff')).toHaveLength(1);
  expect(ofType(events, 'task.end').map((e) => e.metadata.success)).toEqual([true, true, true, true]);
  expect(ofType(events, 'run.end')[0]!.metadata.summary).toMatchObject({
    tool_calls: { total: 10, allowed: 8, denied: 2, error: 1, retried: 0 },
    tasks: { completed: 4, failed: 0 },
    handoffs: 1,
  });
}

describe('examples', () => {
  it('toy-agent prints the whole event stream as JSON lines', async () => {
    const { events, stderr } = await example('toy-agent.ts');
    const modelRunId = events.at(-1)!.run_id;
    checkToyRun(events.filter((e) => e.run_id !== modelRunId));
    expect(stderr).toContain('Budget stop after 5 more calls');
    // The second run: model calls until the cost budget stops them, the reference's event types only.
    const modelRun = events.filter((e) => e.run_id === modelRunId);
    expect(modelRun.map((e) => e.event_type)).toEqual(['run.start', 'run.end']);
    expect(ofType(modelRun, 'run.end')[0]!.metadata).toMatchObject({
      success: true,
      summary: { llm_calls: 3, tokens: { input: 3600, output: 900 }, cost_usd: 0.00108 },
    });
    expect(stderr).toContain('Cost budget stop after 3 model calls: $0.00108 spent of $0.001');
    for (const e of events) expect([e.trace_id, e.span_id]).toEqual([null, null]); // no OTel set up
  }, 60_000);

  it('toy-agent on a terminal draws each run with its trace_id, and the spans beside it', async () => {
    // `script` gives the example a pseudo-terminal, as a user's shell does: process.stdout.isTTY.
    const command = `${join(ROOT, 'node_modules', '.bin', 'tsx')} ${join(ROOT, 'examples', 'toy-agent.ts')}`;
    const output = await new Promise<string>((resolve, reject) =>
      execFile(
        'script',
        ['-qec', command, '/dev/null'],
        { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' }, timeout: 60_000 },
        (error, stdout) => (error ? reject(error) : resolve(stdout.replace(/\r/g, ''))),
      ),
    );
    expect(output).not.toMatch(/^\{"event_id"/m); // no JSON lines on a terminal
    const traceIds = [...output.matchAll(/^│ trace_id ([0-9a-f]{32})$/gm)].map((m) => m[1]);
    expect(traceIds).toHaveLength(2); // the toy run and the model run, each its own trace
    expect(new Set(traceIds).size).toBe(2);
    expect(output).toMatch(
      /^run [0-9a-f-]{36} {2}toy-agent-1@0\.0\.1-toy \(development\) {2}"Toy agent smoke test" {2}✓ success/m,
    );
    expect(output).toContain("│  └─ ⊘ dangerous_tool  DENIED  Tool 'dangerous_tool' is in denied_tools list");
    expect(output).toContain('│  └─ ✗ flaky_tool  ERROR  ConnectionError: Simulated connection timeout  (retryable)');
    expect(output).toContain('│  └─ ⊘ safe_tool  DENIED  Budget exceeded: 8/8 tool calls');
    expect(output).toContain('3 model calls (3600 input, 900 output tokens, $0.00108)');
    expect(output).toContain('budgets per run: 8 tool calls, $0.001 of model calls');
    // The spans, as the in-process provider recorded them.
    expect(output).toContain(
      [
        '      execute_tool dangerous_tool  ⊘ denied',
        '    task errors  ✓',
        '      execute_tool flaky_tool  ✗ ConnectionError',
      ].join('\n'),
    );
    expect(output).toContain('      execute_tool safe_tool  ✓  ×5\n      execute_tool safe_tool  ⊘ denied');
    expect(output).toContain('    chat gpt-4o-mini  ✓  ×3\n    chat gpt-4o-mini  ⊘ denied');
    expect(output).toMatch(/^43 ALM events, 21 spans\./m);
    // The README shows this output: the same, ids and durations aside.
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const shown = /^```text example-output\n([\s\S]*?)^```$/m.exec(readme)?.[1];
    expect(normalOutput(output)).toBe(normalOutput(shown ?? ''));
  }, 60_000);

  describe('existing-otel-setup', () => {
    let server: Server;
    const bodies: unknown[] = [];
    beforeAll(async () => {
      server = createServer((req, res) => {
        let body = '';
        req.on('data', (chunk) => (body += chunk));
        req.on('end', () => {
          if (req.url === '/v1/traces') bodies.push(JSON.parse(body));
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    });
    afterAll(() => new Promise((resolve) => server.close(resolve)));

    it('exports the spans over OTLP to the endpoint and prints the events', async () => {
      const { port } = server.address() as AddressInfo;
      const { events } = await example('existing-otel-setup.ts', {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
        OTEL_SERVICE_NAME: 'toy-agent-under-test',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=ci',
      });
      checkToyRun(events);

      type Attr = { key: string; value: Record<string, unknown> };
      type OtlpSpan = { name: string; traceId: string; spanId: string; parentSpanId?: string; attributes: Attr[] };
      type Body = { resourceSpans: { resource: { attributes: Attr[] }; scopeSpans: { spans: OtlpSpan[] }[] }[] };
      const resourceSpans = (bodies as Body[]).flatMap((b) => b.resourceSpans);
      const resource = Object.fromEntries(
        resourceSpans[0]!.resource.attributes.map((a) => [a.key, Object.values(a.value)[0]]),
      );
      expect(resource).toMatchObject({ 'service.name': 'toy-agent-under-test', 'deployment.environment.name': 'ci' });
      const spans = resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
      const attr = (s: OtlpSpan, key: string) => {
        const found = s.attributes.find((a) => a.key === key);
        return found === undefined ? undefined : Object.values(found.value)[0];
      };
      const runSpan = spans.find((s) => s.name === 'invoke_agent toy-agent-1')!;
      expect(attr(runSpan, 'alm.run.id')).toBe(events[0]!.run_id);
      const denied = spans.find((s) => s.name === 'execute_tool dangerous_tool')!;
      expect(attr(denied, 'alm.policy.decision')).toBe('deny');
      expect(attr(denied, 'alm.tool.status')).toBe('denied');
      // Every event names a span that was exported.
      const exported = new Set(spans.map((s) => s.spanId));
      for (const e of events) {
        expect(e.trace_id).toBe(runSpan.traceId);
        expect(exported.has(e.span_id!)).toBe(true);
      }
    }, 60_000);
  });
});
