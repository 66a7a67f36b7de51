/**
 * The otlp sink against a real OTLP/HTTP receiver on 127.0.0.1: one log record per event, named after
 * the event type, on the event's trace and span, rebuilding the event exactly; resource, endpoint and
 * header resolution; faults. The records are OTLP/JSON here (the receiver reads them); protobuf is
 * decoded by the real collector in the end-to-end test.
 */
import { spawnSync } from 'node:child_process';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { ALM, ALMConfigError, type ALMEvent, type ALMOptions } from '../../src';
import { OtlpLogSink, otlpSinkOptions } from '../../src/sinks/otlp';
import { validated } from '../helpers/harness';
import { installPackage, runBin, appFile } from '../helpers/package';
import { Receiver } from '../helpers/receiver';
import { ROOT } from '../helpers/scripts';

const FAST = { flushIntervalMs: 10, batchSize: 10, flushOnExit: false, retryInitialDelayMs: 20, retryMaxDelayMs: 200 };

let provider: TracerProvider;
let receiver: Receiver;
let errors: Error[];

beforeEach(async () => {
  trace.disable();
  context.disable();
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  provider = new TracerProvider({
    spanProcessors: [new SimpleSpanProcessor({ exporter: new InMemorySpanExporter() })],
  });
  receiver = new Receiver();
  await receiver.start(0);
  errors = [];
});

afterEach(async () => {
  await receiver.stop();
  await provider.shutdown();
  context.disable();
  jest.restoreAllMocks();
});

function otlpAgent(events: Partial<NonNullable<ALMOptions['events']>> = {}, options: Partial<ALMOptions> = {}): ALM {
  return new ALM({
    agentId: 'otlp-agent',
    tracerProvider: provider,
    onError: (error) => errors.push(error),
    ...options,
    events: { sink: 'otlp', endpoint: receiver.url, otlpProtocol: 'http/json', ...FAST, ...events },
  });
}

/** Every batch the sink was given, as the pipeline built it (the sink's own write, called through). */
function captureWrites(): ALMEvent[] {
  const written: ALMEvent[] = [];
  const write = OtlpLogSink.prototype.write;
  jest.spyOn(OtlpLogSink.prototype, 'write').mockImplementation(function (this: OtlpLogSink, events, lines) {
    written.push(...structuredClone(events));
    return write.call(this, events, lines);
  });
  return written;
}

async function work(alm: ALM): Promise<void> {
  const ok = alm.tool('search', async (q: string) => ({ hits: [q], score: 1e300, tiny: 5e-324 }));
  const bad = alm.tool('fail', () => {
    throw new Error('tool failed');
  });
  await alm.run({ purpose: 'otlp run' }, async () => {
    await alm.task({ type: 'lookup' }, () => ok('a'));
    try {
      bad();
    } catch {
      // expected
    }
  });
}

const attribute = (record: { attributes?: { key: string; value: Record<string, unknown> }[] }, key: string) =>
  record.attributes?.find((a) => a.key === key)?.value.stringValue;

describe('otlp sink', () => {
  test('one log record per event, named after its type, on its trace and span, rebuilding it exactly', async () => {
    const written = captureWrites();
    const alm = otlpAgent({}, { policy: { deniedTools: ['fail'] } });
    await work(alm);
    await alm.shutdown();

    expect(errors).toEqual([]);
    expect(written.length).toBeGreaterThan(5);
    validated(written);
    expect(receiver.logRecords).toHaveLength(written.length);
    const rebuilt = [...receiver.events.values()];
    // Every field, ids and timestamps included, equal to the event alm-otel built.
    expect(rebuilt).toEqual(written);
    for (const [i, record] of receiver.logRecords.entries()) {
      const event = written[i]!;
      expect(record.eventName).toBe(`alm.${event.event_type}`);
      expect(event.trace_id).toMatch(/^[0-9a-f]{32}$/);
      expect(record.traceId).toBe(event.trace_id);
      expect(record.spanId).toBe(event.span_id);
      expect(BigInt(record.timeUnixNano!)).toBe(BigInt(Date.parse(event.timestamp)) * 1_000_000n);
      expect(attribute(record, 'alm.event_id')).toBe(event.event_id);
      expect(attribute(record, 'alm.run.id')).toBe(event.run_id);
    }
    // Numbers an OTLP AnyValue cannot hold exactly survive (the body is the event's JSON).
    const response = written.find((e) => e.event_type === 'tool.response' && e.metadata.status === 'success');
    expect(JSON.stringify(response)).toContain('1e+300');
  });

  test('a policy decision is a record correlated with its tool span, WARN when denied', async () => {
    const alm = otlpAgent({}, { policy: { deniedTools: ['fail'] } });
    await work(alm);
    await alm.shutdown();
    const decisions = receiver.logRecords.filter((r) => r.eventName === 'alm.policy.decision');
    expect(decisions).toHaveLength(2);
    const denied = decisions.find((r) => attribute(r, 'alm.policy.decision') === 'deny')!;
    expect(attribute(denied, 'gen_ai.tool.name')).toBe('fail');
    expect(denied.severityNumber).toBe(13);
    const request = receiver.logRecords.find(
      (r) => r.eventName === 'alm.tool.request' && attribute(r, 'gen_ai.tool.name') === 'fail',
    )!;
    expect(denied.spanId).toBe(request.spanId);
  });

  test('the resource names the service (agentId unless configured) with process and host attributes', async () => {
    const alm = otlpAgent({ resourceAttributes: { 'deployment.environment.name': 'staging' } });
    await work(alm);
    await alm.shutdown();
    const resource = receiver.logRecords[0]!.resource;
    expect(resource['service.name']).toBe('otlp-agent');
    expect(resource['deployment.environment.name']).toBe('staging');
    expect(resource['process.pid']).toBe(process.pid);
    expect(typeof resource['host.name']).toBe('string');

    const named = otlpAgent({ resourceAttributes: { 'service.name': 'checkout-agents' } });
    receiver.logRecords.length = 0;
    await work(named);
    await named.shutdown();
    expect(receiver.logRecords[0]!.resource['service.name']).toBe('checkout-agents');
  });

  test('protobuf by default, to {endpoint}/v1/logs, with the configured and environment headers', async () => {
    const alm = otlpAgent({ otlpProtocol: undefined, apiKey: 'sk-otlp-secret', headers: { 'x-tenant': 'acme' } });
    await work(alm);
    await alm.shutdown();
    expect(receiver.requests.length).toBeGreaterThan(0);
    for (const request of receiver.requests) {
      expect(request.url).toBe('/v1/logs');
      expect(request.contentType).toBe('application/x-protobuf');
      expect(request.authorization).toBe('Bearer sk-otlp-secret');
    }
    expect(alm.stats()).toMatchObject({ failed: 0, dropped: 0, queued: 0 });
    expect(alm.stats().delivered).toBe(alm.stats().emitted);
  });

  test('the receiver down, then back: nothing lost; the header values never in a message', async () => {
    const port = receiver.port;
    await receiver.stop();
    const secret = 'tok-9f8e7d6c5b4a';
    const alm = otlpAgent({ headers: { authorization: `Bearer ${secret}` } });
    await work(alm);
    await work(alm);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(alm.stats().delivered).toBe(0);
    expect(alm.stats().queued).toBe(alm.stats().emitted);
    // Back, first answering 503 with the header echoed in its body.
    receiver.script.push({ kind: 'status', status: 503, body: `upstream said Bearer ${secret}` });
    await receiver.start(port);
    await alm.shutdown();
    expect(receiver.events.size).toBe(alm.stats().emitted);
    expect(alm.stats()).toMatchObject({ failed: 0, dropped: 0, queued: 0 });
    expect(errors.length).toBeGreaterThan(0);
    for (const error of errors) expect(error.message).not.toContain(secret);
  });

  test('a 400 is split down to the rejected record; the others arrive', async () => {
    receiver.fallback = (events) =>
      events.some((e) => e.event_type === 'tool.request' && e.metadata.tool_name === 'fail')
        ? { kind: 'status', status: 400, body: 'bad record' }
        : { kind: 'ok' };
    const alm = otlpAgent({ batchSize: 50 });
    await work(alm);
    await alm.shutdown();
    expect(alm.stats().failed).toBe(1);
    expect(receiver.events.size).toBe(alm.stats().emitted - 1);
  });
});

describe('alm-otel convert on OTLP/JSON logs', () => {
  test('rebuilds the events exactly, skipping other records and redeliveries; validate and tree read the result', async () => {
    const written = captureWrites();
    const alm = otlpAgent({}, { policy: { deniedTools: ['fail'] } });
    await work(alm);
    await alm.shutdown();
    // Another application's log record in the same pipeline, and one batch delivered twice.
    const other = JSON.stringify({
      resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { stringValue: 'GET /health 200' } }] }] }],
    });
    const lines = [...receiver.logBodies, other, receiver.logBodies[0]!].map((body) =>
      JSON.stringify(JSON.parse(body)),
    );
    const pkg = await installPackage();
    try {
      const file = appFile(pkg, 'logs.jsonl', lines.join('\n') + '\n');
      const converted = await runBin(pkg, ['convert', file]);
      expect(converted.code).toBe(0);
      const events = converted.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as ALMEvent);
      expect(events).toEqual(written);
      expect(converted.stderr).toMatch(/1 records skipped: not ALM events; \d+ redelivered records kept once/);
      const events_ = appFile(pkg, 'events.jsonl', converted.stdout);
      expect((await runBin(pkg, ['validate', events_])).code).toBe(0);
      const tree = await runBin(pkg, ['tree', events_]);
      expect(tree.code).toBe(0);
      expect(tree.stdout).toContain('otlp run');
      expect(tree.stdout).toContain('fail');
    } finally {
      pkg.remove();
    }
  }, 120_000);
});

describe('otlp sink options', () => {
  const events = { headers: {}, resourceAttributes: {}, timeoutMs: 1000 };

  test('endpoint: option, then the logs variable as is, then the base variable plus /v1/logs, then localhost', () => {
    expect(otlpSinkOptions({ ...events, endpoint: 'http://c:4318' }, 'a', {}).url).toBe('http://c:4318/v1/logs');
    expect(otlpSinkOptions({ ...events, endpoint: 'http://c:4318/v1/logs' }, 'a', {}).url).toBe(
      'http://c:4318/v1/logs',
    );
    expect(
      otlpSinkOptions(events, 'a', {
        OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'https://logs.example:443/custom',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://base:4318',
      }).url,
    ).toBe('https://logs.example/custom');
    expect(otlpSinkOptions(events, 'a', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://base:4318/otlp/' }).url).toBe(
      'http://base:4318/otlp/v1/logs',
    );
    expect(otlpSinkOptions(events, 'a', {}).url).toBe('http://localhost:4318/v1/logs');
  });

  test('headers: the generic variable, the logs variable over it, the option over both, the API key last', () => {
    const options = otlpSinkOptions({ ...events, headers: { 'X-Team': 'code' }, apiKey: 'k-1234' }, 'a', {
      OTEL_EXPORTER_OTLP_HEADERS: 'x-team=generic,x-region=eu%2Dwest',
      OTEL_EXPORTER_OTLP_LOGS_HEADERS: 'x-team=logs,authorization=Basic%20abc',
    });
    expect(options.headers).toEqual({ 'x-team': 'code', 'x-region': 'eu-west', authorization: 'Bearer k-1234' });
  });

  test('protocol: option, then the variables; one the sink does not speak is a configuration error naming it', () => {
    expect(otlpSinkOptions(events, 'a', {}).protocol).toBe('http/protobuf');
    expect(otlpSinkOptions(events, 'a', { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }).protocol).toBe('http/json');
    expect(() => otlpSinkOptions(events, 'a', { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(
      /events\.otlpProtocol: OTEL_EXPORTER_OTLP_PROTOCOL=grpc/,
    );
    expect(() => otlpSinkOptions(events, 'a', { OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(
      ALMConfigError,
    );
    expect(() => new ALM({ agentId: 'a', events: { sink: 'otlp', otlpProtocol: 'grpc' as never } })).toThrow(
      /events\.otlpProtocol/,
    );
  });

  test('without @opentelemetry/otlp-transformer, new ALM() fails naming events.sink and the package', () => {
    // A preload that makes the package unresolvable, as in an application that did not install it.
    const hide = `const M = require('module'); const r = M._resolveFilename;
      M._resolveFilename = function (request, ...rest) {
        if (request === '@opentelemetry/otlp-transformer') { const e = new Error('Cannot find module ' + request); e.code = 'MODULE_NOT_FOUND'; throw e; }
        return r.call(this, request, ...rest);
      };`;
    const script = `const { ALM } = require(${JSON.stringify(`${ROOT}/dist/index.cjs`)});
      try { new ALM({ agentId: 'a', events: { sink: 'otlp' } }); console.log('constructed'); }
      catch (e) { console.log(e.name + ': ' + e.message); }`;
    const result = spawnSync(process.execPath, ['-e', `${hide}\n${script}`], { encoding: 'utf8' });
    expect(result.stdout).toMatch(
      /ALMConfigError: .*events\.sink: 'otlp' encodes with @opentelemetry\/otlp-transformer/s,
    );
    expect(result.stdout).toMatch(/npm install @opentelemetry\/otlp-transformer/);
  });
});
