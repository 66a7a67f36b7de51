/**
 * The ALM event stream on the OpenTelemetry Collector: alm-otel's otlp sink (OTLP/HTTP, protobuf) to the
 * real collector running the project's collector-config.yaml (logs pipeline, persistent sending queue on
 * file_storage), on to an OTLP/HTTP backend in the test (JSON). Every event arrives and rebuilds
 * exactly, also when the collector is killed (SIGKILL) in the middle of the stream and restarted.
 */
import { ALM, type ALMEvent } from '../../src';
import { eventsFromOtlpLogs } from '../../src/cli/otlp-logs';
import { OtlpLogSink } from '../../src/sinks/otlp';
import { otlpProvider, pollUntil, startStack, type Stack } from './harness';
import type { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

let stack: Stack;
let provider: NodeTracerProvider;

beforeAll(async () => {
  stack = await startStack();
  provider = otlpProvider(stack.collectorHttpUrl, { 'service.name': 'events-otlp-e2e' });
}, 90_000);

afterAll(async () => {
  await provider?.shutdown();
  await stack?.stop();
});

afterEach(() => jest.restoreAllMocks());

/** Every event the otlp sink was given to send, as alm-otel built it (the sink's own write, called through). */
function captureWrites(): Map<string, ALMEvent> {
  const written = new Map<string, ALMEvent>();
  const write = OtlpLogSink.prototype.write;
  jest.spyOn(OtlpLogSink.prototype, 'write').mockImplementation(function (this: OtlpLogSink, events, lines) {
    for (const event of events) written.set(event.event_id, structuredClone(event));
    return write.call(this, events, lines);
  });
  return written;
}

function otlpAgent(errors: Error[]): ALM {
  return new ALM({
    agentId: 'events-otlp-e2e',
    tracerProvider: provider,
    policy: { deniedTools: ['rm'] },
    onError: (error) => errors.push(error),
    events: {
      sink: 'otlp',
      endpoint: stack.collectorHttpUrl,
      flushIntervalMs: 20,
      retryInitialDelayMs: 50,
      retryMaxDelayMs: 500,
      flushOnExit: false,
    },
  });
}

async function oneRun(alm: ALM, n: number): Promise<void> {
  const read = alm.tool('read_file', async (path: string) => `contents of ${path}`);
  const rm = alm.tool('rm', async (path: string) => path);
  await alm.run({ purpose: `run ${n}` }, async () => {
    await alm.task({ type: 'step' }, () => read(`/tmp/${n}`));
    await rm(`/tmp/${n}`).catch(() => undefined);
  });
}

/** The events the backend received, rebuilt the way `alm-otel convert` does. */
function rebuilt(): Map<string, unknown> {
  const { events } = eventsFromOtlpLogs(stack.eventsBackend.accepted.join('\n'));
  return new Map(events.map((e) => [e.event_id as string, e]));
}

test("a run's events pass the real collector as log records and rebuild exactly", async () => {
  const written = captureWrites();
  const errors: Error[] = [];
  const alm = otlpAgent(errors);
  for (let n = 0; n < 3; n++) await oneRun(alm, n);
  await alm.shutdown();
  expect(errors).toEqual([]);
  expect(written.size).toBe(alm.stats().emitted);

  const arrived = await pollUntil(
    `${written.size} events at the backend`,
    async () => rebuilt(),
    (m) => [...written.keys()].every((id) => m.has(id)),
  );
  for (const [id, event] of written) expect(arrived.get(id)).toEqual(event);
  // As log records: named after the event type, on the event's trace and span.
  const records = stack.eventsBackend.accepted.flatMap((body) =>
    (JSON.parse(body) as { resourceLogs: { scopeLogs: { logRecords: Record<string, unknown>[] }[] }[] }).resourceLogs
      .flatMap((r) => r.scopeLogs)
      .flatMap((s) => s.logRecords),
  );
  for (const record of records) {
    const event = JSON.parse((record.body as { stringValue: string }).stringValue) as ALMEvent;
    if (!written.has(event.event_id)) continue;
    expect(record.eventName).toBe(`alm.${event.event_type}`);
    expect(record.traceId).toBe(event.trace_id);
    expect(record.spanId).toBe(event.span_id);
  }
});

test('the collector killed mid-stream and restarted: no event lost (alm retries + the persistent queue)', async () => {
  stack.eventsBackend.accepted.length = 0;
  const written = captureWrites();
  const errors: Error[] = [];
  const alm = otlpAgent(errors);

  // The backend is down: the collector acknowledges what it receives and keeps it in its disk queue.
  stack.eventsBackend.failWith = 503;
  for (let n = 0; n < 10; n++) await oneRun(alm, n);
  await pollUntil(
    'the collector to acknowledge the first runs',
    async () => alm.stats(),
    (s) => s.delivered === s.emitted && s.queued === 0,
  );
  const acknowledgedBeforeKill = written.size;
  expect(stack.eventsBackend.accepted).toHaveLength(0);
  expect(stack.eventsBackend.refused).toBeGreaterThan(0);

  // More runs while the collector is killed and comes back.
  let stop = false;
  const during = (async () => {
    for (let n = 100; !stop; n++) {
      await oneRun(alm, n);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  await new Promise((resolve) => setTimeout(resolve, 300));
  await stack.killAndRestartCollector(1500);
  await new Promise((resolve) => setTimeout(resolve, 300));
  stop = true;
  await during;
  stack.eventsBackend.failWith = undefined;
  await alm.shutdown();

  expect(written.size).toBeGreaterThan(acknowledgedBeforeKill);
  expect(alm.stats()).toMatchObject({ failed: 0, dropped: 0, queued: 0 });
  const arrived = await pollUntil(
    `all ${written.size} events at the backend after the restart`,
    async () => rebuilt(),
    (m) => [...written.keys()].every((id) => m.has(id)),
    60_000,
  );
  for (const [id, event] of written) expect(arrived.get(id)).toEqual(event);
  // alm-otel saw the collector gone and retried.
  expect(errors.some((e) => /POST .*\/v1\/logs failed/.test(e.message))).toBe(true);
}, 120_000);

test('the collector down for 30 s: nothing lost, memory bounded by maxQueueSize', async () => {
  stack.eventsBackend.accepted.length = 0;
  const written = captureWrites();
  const errors: Error[] = [];
  const maxQueueSize = 5000;
  const alm = new ALM({
    agentId: 'events-otlp-e2e',
    tracerProvider: provider,
    onError: (error) => errors.push(error),
    events: {
      sink: 'otlp',
      endpoint: stack.collectorHttpUrl,
      flushIntervalMs: 20,
      retryInitialDelayMs: 100,
      retryMaxDelayMs: 2000,
      maxQueueSize,
      flushOnExit: false,
    },
  });
  const down = stack.killAndRestartCollector(30_000);
  const heapBefore = process.memoryUsage().heapUsed;
  let peakQueued = 0;
  let peakHeap = 0;
  const started = Date.now();
  // About 100 events a second for the 30 s: under the bound, so nothing may be dropped.
  for (let n = 0; Date.now() - started < 30_000; n++) {
    await oneRun(alm, n);
    peakQueued = Math.max(peakQueued, alm.stats().queued);
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
    await new Promise((resolve) => setTimeout(resolve, 80));
  }
  await down;
  await alm.shutdown();
  expect(alm.stats()).toMatchObject({ failed: 0, dropped: 0, queued: 0 });
  expect(written.size).toBe(alm.stats().emitted);
  expect(written.size).toBeGreaterThan(2000);
  expect(peakQueued).toBeLessThanOrEqual(maxQueueSize);
  // What the queue holds, not more: a few KB per event at most.
  expect(peakHeap - heapBefore).toBeLessThan(written.size * 4096 + 32 * 1024 * 1024);
  const arrived = await pollUntil(
    `all ${written.size} events at the backend`,
    async () => rebuilt(),
    (m) => [...written.keys()].every((id) => m.has(id)),
    60_000,
  );
  for (const [id, event] of written) expect(arrived.get(id)).toEqual(event);
}, 150_000);
