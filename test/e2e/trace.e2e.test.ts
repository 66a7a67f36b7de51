/**
 * `alm-otel trace` against a real Jaeger v2: the toy agent under a real NodeSDK exports OTLP/HTTP to
 * the real collector, which forwards to Jaeger; the command fetches the trace from Jaeger's query API
 * and draws it with each call's policy decision. Also: an unknown trace, and a Jaeger that is gone.
 *
 *   npm run test:e2e -- -t trace
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { eventLines, ROOT, runTsx } from '../helpers/scripts';
import { pollUntil, startStack, type Stack } from './harness';

let stack: Stack | undefined;
afterAll(async () => {
  await stack?.stop();
});

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(
      join(ROOT, 'node_modules', '.bin', 'tsx'),
      [join(ROOT, 'src', 'cli', 'index.ts'), ...args],
      { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' }, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

describe('alm-otel trace, against a real Jaeger', () => {
  it('draws the trace Jaeger stored, with the policy decisions; says so for an unknown trace and a Jaeger that is gone', async () => {
    stack = await startStack();
    const { stdout } = await runTsx('examples/existing-otel-setup.ts', [], {
      OTEL_EXPORTER_OTLP_ENDPOINT: stack.collectorHttpUrl,
      OTEL_SERVICE_NAME: 'alm-e2e-trace',
    });
    const events = eventLines(stdout);
    const traceId = events.find((e) => e.event_type === 'run.start')!.trace_id!;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    const jaeger = stack.jaegerQueryUrl;

    // Spans reach Jaeger a moment after they end, through the collector's batch: ask until the run is whole.
    const drawn = await pollUntil(
      `trace ${traceId} drawn from Jaeger`,
      () => cli(['trace', traceId, '--jaeger', jaeger]),
      (r) => r.code === 0 && /^summary {2}10 tool calls/m.test(r.stdout),
      60_000,
      1000,
    );
    const runId = events[0]!.run_id!;
    expect(drawn.stdout).toMatch(
      new RegExp(`^run ${runId}  toy-agent-1@0.0.1-toy \\(development\\)  "Toy agent smoke test"  ✓ success`),
    );
    expect(drawn.stdout).toContain(`│ trace_id ${traceId}  ${jaeger.replace(/\/+$/, '')}/trace/${traceId}`);
    expect(drawn.stdout).toContain("└─ ⊘ dangerous_tool  DENIED  Tool 'dangerous_tool' is in denied_tools list");
    expect(drawn.stdout).toContain('└─ ✗ flaky_tool  ERROR  ConnectionError: Simulated connection timeout');
    expect(drawn.stdout).toContain('└─ ⊘ safe_tool  DENIED  Budget exceeded: 8/8 tool calls');
    expect(drawn.stdout).toMatch(
      /^summary {2}10 tool calls \(8 allowed, 2 denied, 1 error, 0 retried\) · tasks 4 completed, 0 failed · 1 handoff/m,
    );

    const unknown = 'ffffffffffffffffffffffffffffff01';
    const missing = await cli(['trace', unknown, '--jaeger', jaeger]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(
      `alm-otel trace: trace ${unknown} not found in Jaeger at ${jaeger.replace(/\/+$/, '')}`,
    );

    await stack.stop();
    const gone = await cli(['trace', traceId, '--jaeger', jaeger]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain(
      `alm-otel trace: cannot reach Jaeger at ${jaeger.replace(/\/+$/, '')} (ECONNREFUSED)`,
    );
  });
});
