/**
 * examples/existing-otel-setup.ts (what `npm run example:otlp` runs) as a user runs it, configured only through
 * the standard OTEL_* variables, against the real collector and Jaeger: its trace must land in Jaeger
 * under the service and resource the variables name, and its ALM events must point at that trace.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { ALMEventSchema, type ALMEvent } from '../../src';
import { REPO_ROOT, pollUntil, startStack, type Stack } from './harness';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
}, 90_000);

afterAll(async () => {
  await stack?.stop();
});

test('npm run example:otlp puts the toy agent trace in Jaeger, honouring OTEL_* variables', async () => {
  const service = `otlp-example-${randomUUID().slice(0, 8)}`;
  const tsx = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
  const { stdout } = await promisify(execFile)(tsx, [path.join(REPO_ROOT, 'examples', 'existing-otel-setup.ts')], {
    cwd: REPO_ROOT,
    timeout: 60_000,
    env: {
      ...process.env,
      NODE_OPTIONS: '', // the e2e runner's --experimental-vm-modules is for jest, not for the example
      OTEL_EXPORTER_OTLP_ENDPOINT: stack.collectorHttpUrl,
      OTEL_SERVICE_NAME: service,
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=e2e,team=agents',
    },
  });

  const events: ALMEvent[] = stdout
    .split('\n')
    .filter((line) => line.trim().startsWith('{'))
    .map((line) => ALMEventSchema.parse(JSON.parse(line)));
  expect(events.length).toBeGreaterThan(0);
  const traceIds = new Set(events.map((e) => e.trace_id));
  expect(traceIds.size).toBe(1);
  const [traceId] = [...traceIds];
  expect(traceId).toMatch(/^[0-9a-f]{32}$/);

  const spans = await pollUntil(
    `the example's trace ${traceId} in Jaeger`,
    () => stack.jaeger.getTrace(traceId!),
    (s) => s.some((span) => span.name.startsWith('invoke_agent ')) && s.length >= 5,
  );
  const root = spans.find((s) => s.parentSpanId === '');
  expect(root?.name).toBe('invoke_agent toy-agent-1');
  for (const span of spans) {
    expect(span.resource['service.name']).toBe(service);
    expect(span.resource['deployment.environment.name']).toBe('e2e');
    expect(span.resource['team']).toBe('agents');
  }
  // Every event names a span of that trace.
  const spanIds = new Set(spans.map((s) => s.spanId));
  const missing = events.filter((e) => !spanIds.has(e.span_id!));
  if (missing.length > 0) {
    // Spans of one trace can arrive in more than one batch: give the rest a moment.
    const all = await pollUntil(
      'every span the events name',
      () => stack.jaeger.getTrace(traceId!),
      (s) => events.every((e) => s.some((span) => span.spanId === e.span_id)),
    );
    expect(all.length).toBeGreaterThanOrEqual(spans.length);
  }
  expect(await stack.jaeger.services()).toContain(service);
});
