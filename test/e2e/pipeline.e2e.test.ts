/**
 * The pipeline alone, without alm-otel: plain OpenTelemetry SDK spans go over OTLP/HTTP to the
 * collector (running the project's collector-config.yaml) and on to Jaeger v2, and come back out of
 * Jaeger's query API intact. If this fails, the problem is in the infrastructure, not the library.
 */
import { randomUUID } from 'node:crypto';
import { ROOT_CONTEXT, SpanStatusCode, trace } from '@opentelemetry/api';
import type { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { otlpProvider, pollUntil, startStack, type JaegerSpan, type Stack } from './harness';

let stack: Stack;
let provider: NodeTracerProvider;
const service = `pipeline-e2e-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  stack = await startStack();
  provider = otlpProvider(stack.collectorHttpUrl, { 'service.name': service, 'deployment.environment.name': 'e2e' });
}, 90_000);

afterAll(async () => {
  await provider?.shutdown();
  await stack?.stop();
});

test('SDK spans reach Jaeger through the collector, with parents, attributes, status, events and resource', async () => {
  const tracer = provider.getTracer('pipeline-e2e');
  const marker = randomUUID();
  // Explicit parent context: this test registers no global context manager.
  const parent = tracer.startSpan('parent op');
  const traceId = parent.spanContext().traceId;
  const parentId = parent.spanContext().spanId;
  parent.setAttribute('alm.run.id', marker);
  parent.setAttribute('count', 3);
  parent.setAttribute('flag', true);
  const child = tracer.startSpan('child op', {}, trace.setSpan(ROOT_CONTEXT, parent));
  child.addEvent('something.happened', { detail: 'x' });
  child.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
  child.end();
  parent.end();
  await provider.forceFlush();

  const spans = await pollUntil(
    `trace ${traceId} in Jaeger`,
    () => stack.jaeger.getTrace(traceId),
    (s) => s.length >= 2,
  );
  expect(spans).toHaveLength(2);
  const byName = new Map<string, JaegerSpan>(spans.map((s) => [s.name, s]));
  const parentSpan = byName.get('parent op')!;
  const childSpan = byName.get('child op')!;
  expect(parentSpan.spanId).toBe(parentId);
  expect(parentSpan.parentSpanId).toBe('');
  expect(childSpan.parentSpanId).toBe(parentId);
  expect(parentSpan.attributes).toMatchObject({ 'alm.run.id': marker, count: 3, flag: true });
  expect(childSpan.statusCode).toBe(2);
  expect(childSpan.statusMessage).toBe('boom');
  expect(childSpan.events).toEqual([{ name: 'something.happened', attributes: { detail: 'x' } }]);
  expect(parentSpan.resource['service.name']).toBe(service);
  expect(parentSpan.resource['deployment.environment.name']).toBe('e2e');

  // The same trace through the search endpoints: by service and time window (api_v3), and by tag
  // (what the Jaeger UI's "Tags" search field sends).
  const found = await stack.jaeger.findTraces(
    service,
    new Date(Date.now() - 10 * 60_000),
    new Date(Date.now() + 60_000),
  );
  expect([...found.keys()]).toEqual([traceId]);
  expect(await stack.jaeger.findTraceIdsByTags(service, { 'alm.run.id': marker })).toEqual([traceId]);
  expect(await stack.jaeger.findTraceIdsByTags(service, { 'alm.run.id': randomUUID() })).toEqual([]);
  expect(await stack.jaeger.services()).toContain(service);
});
