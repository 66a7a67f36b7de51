/**
 * End-to-end harness: runs the real Jaeger v2 and OpenTelemetry Collector binaries that e2e/build.sh
 * built (paths in ALM_E2E_JAEGER_BIN / ALM_E2E_OTELCOL_BIN), on free loopback ports, and reads
 * traces back through Jaeger's query API.
 *
 * The collector runs the project's own collector-config.yaml with e2e/collector-overlay.yaml merged
 * over it (addresses and ports only); Jaeger runs e2e/jaeger-config.yaml. Every child process is
 * started in its own process group and stopped when the stack stops (afterAll, or a failed start);
 * if the test process goes away first, a per-child watchdog stops it, and e2e/run.sh stops anything
 * still listed in the pid files of ALM_E2E_PID_DIR when it exits (normally, failed, or signalled).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

// ---------------------------------------------------------------------------------------------
// Ports and processes
// ---------------------------------------------------------------------------------------------

/** `n` distinct free TCP ports on 127.0.0.1 (all held open until every one is known). */
export async function freePorts(n: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const server = net.createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
      servers.push(server);
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal); // the whole process group (children are started detached)
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/**
 * A watchdog for one child: a detached shell that stops the child's process group if this test
 * process goes away first (a crash, SIGKILL, or a SIGINT/SIGTERM that jest dies of). It is needed
 * because `process.on(...)` inside a jest test file registers on jest's sandbox copy of `process`,
 * never on the real one, so signal and exit handlers here would not run. It exits by itself as soon
 * as the child is gone, and stop() ends it first.
 */
function startReaper(childPid: number): ChildProcess {
  const script = [
    `while kill -0 ${process.pid} 2>/dev/null && kill -0 ${childPid} 2>/dev/null; do sleep 1; done`,
    `kill -0 ${childPid} 2>/dev/null || exit 0`,
    `kill -TERM -${childPid} 2>/dev/null; sleep 3; kill -0 ${childPid} 2>/dev/null && kill -KILL -${childPid} 2>/dev/null; exit 0`,
  ].join('\n');
  const reaper = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
  reaper.unref();
  return reaper;
}

export class ManagedProcess {
  readonly pid: number;
  readonly exited: Promise<number | null>;
  private status: { code: number | null } | undefined;
  private readonly pidFile: string | undefined;
  private readonly reaper: ChildProcess;

  constructor(
    readonly name: string,
    child: ChildProcess,
    readonly logFile: string,
  ) {
    if (child.pid === undefined) throw new Error(`${name}: failed to start (see ${logFile})`);
    this.pid = child.pid;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.status = { code: code ?? (signal ? -1 : null) };
        if (this.pidFile) fs.rmSync(this.pidFile, { force: true });
        resolve(this.status.code);
      });
    });
    this.reaper = startReaper(this.pid);
    const pidDir = process.env.ALM_E2E_PID_DIR;
    if (pidDir && fs.existsSync(pidDir)) {
      this.pidFile = path.join(pidDir, `${name}-${this.pid}.pid`);
      fs.writeFileSync(this.pidFile, `${this.pid}\n`);
    }
  }

  get running(): boolean {
    return this.status === undefined;
  }

  logTail(lines = 30): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** SIGTERM to the process group, SIGKILL if it is still there after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.reaper.exitCode === null && this.reaper.pid !== undefined) signalGroup(this.reaper.pid, 'SIGKILL');
    if (!this.running) return;
    signalGroup(this.pid, 'SIGTERM');
    const timedOut = await Promise.race([
      this.exited.then(() => false),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(true), graceMs).unref()),
    ]);
    if (timedOut) signalGroup(this.pid, 'SIGKILL');
    await this.exited;
  }
}

export function startProcess(
  name: string,
  bin: string,
  args: string[],
  env: Record<string, string>,
  logDir: string,
): ManagedProcess {
  const logFile = path.join(logDir, `${name}.log`);
  const fd = fs.openSync(logFile, 'a');
  try {
    const child = spawn(bin, args, {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', fd, fd],
      detached: true, // own process group, so stop() reaches anything it starts
    });
    return new ManagedProcess(name, child, logFile);
  } finally {
    fs.closeSync(fd);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `url` until it answers 200; fails early, with its log, if one of `procs` exits. */
export async function waitForHttp(url: string, procs: ManagedProcess[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    for (const p of procs) {
      if (!p.running) throw new Error(`${p.name} exited while waiting for ${url}:\n${p.logTail()}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = String(err);
    }
    await sleep(200);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${url} (${last})\n` +
      procs.map((p) => `--- ${p.name} log:\n${p.logTail()}`).join('\n'),
  );
}

/** Polls `fn` until `done` holds for its result; returns that result, or throws with the last one. */
export async function pollUntil<T>(
  what: string,
  fn: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 60_000,
  intervalMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await fn();
  while (!done(value)) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last result: ${describe(value)}`);
    }
    await sleep(intervalMs);
    value = await fn();
  }
  return value;
}

function describe(value: unknown): string {
  if (value instanceof Map) return `Map(${value.size})`;
  if (Array.isArray(value)) return `array of ${value.length}`;
  return JSON.stringify(value)?.slice(0, 500) ?? String(value);
}

// ---------------------------------------------------------------------------------------------
// The stack: Jaeger v2 + the collector
// ---------------------------------------------------------------------------------------------

export interface Stack {
  /** Base URL of the collector's OTLP/HTTP receiver (append /v1/traces). */
  readonly collectorHttpUrl: string;
  /** host:port of the collector's OTLP/gRPC receiver. */
  readonly collectorGrpcEndpoint: string;
  /** Base URL of Jaeger's query service (HTTP API; the UI would be here too). */
  readonly jaegerQueryUrl: string;
  readonly jaeger: JaegerQuery;
  readonly logDir: string;
  readonly processes: readonly ManagedProcess[];
  /** OTLP/JSON metrics requests the collector's metrics exporter delivered to the test (see the overlay). */
  readonly metricsReceived: readonly OtlpMetricsRequest[];
  /** The ALM event stream's backend (the collector's otlp_http/alm_events exporter delivers to it). */
  readonly eventsBackend: EventsBackend;
  /** SIGKILL the collector (no graceful shutdown), then start it again on the same ports and queue directory. */
  killAndRestartCollector(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** An OTLP/HTTP logs receiver on 127.0.0.1 standing in for an ALM event backend: records every JSON request it accepts. */
export interface EventsBackend {
  /** Accepted request bodies (OTLP/JSON ExportLogsServiceRequest text), in arrival order. */
  readonly accepted: string[];
  /** Requests answered with `failWith` (the backend "down"). */
  refused: number;
  /** While set, every request is answered with this status and not accepted. */
  failWith: number | undefined;
}

async function startEventsBackend(backend: EventsBackend): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (backend.failWith !== undefined) {
        backend.refused++;
        res.writeHead(backend.failWith).end();
        return;
      }
      const raw = Buffer.concat(chunks);
      const body = req.headers['content-encoding'] === 'gzip' ? zlib.gunzipSync(raw) : raw;
      if (req.url === '/v1/logs') backend.accepted.push(body.toString('utf8'));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return server;
}

/** The parts of an OTLP/JSON ExportMetricsServiceRequest the tests read. */
export interface OtlpMetricsRequest {
  resourceMetrics?: {
    resource?: { attributes?: { key: string; value: { stringValue?: string } }[] };
    scopeMetrics?: { scope?: { name?: string }; metrics?: { name: string; unit?: string }[] }[];
  }[];
}

/** An OTLP/HTTP metrics receiver on 127.0.0.1 standing in for Prometheus: records every JSON request. */
async function startMetricsSink(received: OtlpMetricsRequest[]): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      // The collector's otlp_http exporter compresses with gzip by default.
      const raw = Buffer.concat(chunks);
      const body = req.headers['content-encoding'] === 'gzip' ? zlib.gunzipSync(raw) : raw;
      if (req.url === '/v1/metrics') received.push(JSON.parse(body.toString('utf8')) as OtlpMetricsRequest);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return server;
}

function binFromEnv(variable: string): string {
  const bin = process.env[variable];
  if (!bin || !fs.existsSync(bin)) {
    throw new Error(
      `${variable} is not set to a built binary (got ${JSON.stringify(bin)}). ` +
        'Run the end-to-end tests with `npm run test:e2e`, which builds the binaries and sets it.',
    );
  }
  return bin;
}

export async function startStack(): Promise<Stack> {
  const jaegerBin = binFromEnv('ALM_E2E_JAEGER_BIN');
  const otelcolBin = binFromEnv('ALM_E2E_OTELCOL_BIN');
  const [jaegerOtlpGrpc, jaegerQuery, jaegerQueryGrpc, jaegerHealth, colGrpc, colHttp, colHealth, colMetrics] =
    await freePorts(8);
  // Under e2e/run.sh the logs go to its work dir (kept when the run fails, removed when it passes);
  // otherwise to a temp dir removed when the stack stops (a failed start reports the log tails).
  const parentLogDir = process.env.ALM_E2E_LOG_DIR;
  const logDir = fs.mkdtempSync(path.join(parentLogDir ?? os.tmpdir(), 'alm-e2e-'));
  const processes: ManagedProcess[] = [];
  const metricsReceived: OtlpMetricsRequest[] = [];
  const metricsSink = await startMetricsSink(metricsReceived);
  const eventsBackend: EventsBackend = { accepted: [], refused: 0, failWith: undefined };
  const eventsSink = await startEventsBackend(eventsBackend);
  const queueDir = fs.mkdtempSync(path.join(os.tmpdir(), 'alm-e2e-queue-'));
  const stop = async () => {
    // Collector first, so it does not spend its shutdown retrying a Jaeger that is gone.
    for (const p of [...processes].reverse()) await p.stop();
    await new Promise<void>((resolve) => metricsSink.close(() => resolve()));
    eventsSink.closeAllConnections();
    await new Promise<void>((resolve) => eventsSink.close(() => resolve()));
    fs.rmSync(queueDir, { recursive: true, force: true });
    if (!parentLogDir) fs.rmSync(logDir, { recursive: true, force: true });
  };
  let collectorStarts = 0;
  const startCollector = async (): Promise<ManagedProcess> => {
    const collector = startProcess(
      collectorStarts++ === 0 ? 'collector' : `collector-${collectorStarts}`,
      otelcolBin,
      [
        '--config',
        path.join(REPO_ROOT, 'collector-config.yaml'),
        '--config',
        path.join(REPO_ROOT, 'e2e', 'collector-overlay.yaml'),
      ],
      {
        ALM_E2E_COLLECTOR_GRPC_PORT: String(colGrpc),
        ALM_E2E_COLLECTOR_HTTP_PORT: String(colHttp),
        ALM_E2E_COLLECTOR_HEALTH_PORT: String(colHealth),
        ALM_E2E_COLLECTOR_METRICS_PORT: String(colMetrics),
        ALM_E2E_JAEGER_GRPC_PORT: String(jaegerOtlpGrpc),
        ALM_E2E_METRICS_SINK_PORT: String((metricsSink.address() as net.AddressInfo).port),
        ALM_E2E_EVENTS_SINK_PORT: String((eventsSink.address() as net.AddressInfo).port),
        ALM_E2E_QUEUE_DIR: queueDir,
      },
      logDir,
    );
    processes.push(collector);
    await waitForHttp(`http://127.0.0.1:${colHealth}/`, [collector, ...processes.filter((p) => p.name === 'jaeger')]);
    return collector;
  };
  try {
    const jaeger = startProcess(
      'jaeger',
      jaegerBin,
      ['--config', path.join(REPO_ROOT, 'e2e', 'jaeger-config.yaml')],
      {
        ALM_E2E_JAEGER_GRPC_PORT: String(jaegerOtlpGrpc),
        ALM_E2E_JAEGER_QUERY_PORT: String(jaegerQuery),
        ALM_E2E_JAEGER_QUERY_GRPC_PORT: String(jaegerQueryGrpc),
        ALM_E2E_JAEGER_HEALTH_PORT: String(jaegerHealth),
      },
      logDir,
    );
    processes.push(jaeger);
    await waitForHttp(`http://127.0.0.1:${jaegerHealth}/status`, [jaeger]);
    await waitForHttp(`http://127.0.0.1:${jaegerQuery}/api/v3/services`, [jaeger]);

    await startCollector();
  } catch (err) {
    await stop();
    throw err;
  }
  const jaegerQueryUrl = `http://127.0.0.1:${jaegerQuery}`;
  return {
    collectorHttpUrl: `http://127.0.0.1:${colHttp}`,
    collectorGrpcEndpoint: `127.0.0.1:${colGrpc}`,
    jaegerQueryUrl,
    jaeger: new JaegerQuery(jaegerQueryUrl),
    logDir,
    processes,
    metricsReceived,
    eventsBackend,
    async killAndRestartCollector(downMs = 0) {
      const collector = processes.filter((p) => p.name.startsWith('collector') && p.running).pop();
      if (collector === undefined) throw new Error('no collector is running');
      signalGroup(collector.pid, 'SIGKILL');
      await collector.exited;
      await collector.stop();
      if (downMs > 0) await sleep(downMs);
      await startCollector();
    },
    stop,
  };
}

// ---------------------------------------------------------------------------------------------
// The SDK side: a tracer provider exporting OTLP/HTTP to the collector
// ---------------------------------------------------------------------------------------------

export function otlpProvider(
  collectorHttpUrl: string,
  resource: Record<string, string>,
  processors: readonly SpanProcessor[] = [],
): NodeTracerProvider {
  const exporter = new OTLPTraceExporter({ url: `${collectorHttpUrl}/v1/traces` });
  return new NodeTracerProvider({
    resource: resourceFromAttributes(resource),
    spanProcessors: [...processors, new BatchSpanProcessor({ exporter, maxQueueSize: 8192 })],
  });
}

// ---------------------------------------------------------------------------------------------
// Reading traces back from Jaeger
// ---------------------------------------------------------------------------------------------

export type AttributeValue = string | number | boolean | null | AttributeValue[] | { [key: string]: AttributeValue };
export type Attributes = Record<string, AttributeValue>;

export interface JaegerSpan {
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Attributes;
  /** 0 unset, 1 ok, 2 error. */
  statusCode: number;
  statusMessage: string;
  events: { name: string; attributes: Attributes }[];
  resource: Attributes;
  scope: string;
}

interface OtlpKeyValue {
  key: string;
  value?: OtlpAnyValue;
}
interface OtlpAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  bytesValue?: string;
  arrayValue?: { values?: OtlpAnyValue[] };
  kvlistValue?: { values?: OtlpKeyValue[] };
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind?: number | string;
  attributes?: OtlpKeyValue[];
  status?: { code?: number | string; message?: string };
  events?: { name: string; attributes?: OtlpKeyValue[] }[];
}
interface OtlpTracesData {
  resourceSpans?: {
    resource?: { attributes?: OtlpKeyValue[] };
    scopeSpans?: { scope?: { name?: string }; spans?: OtlpSpan[] }[];
  }[];
}

function anyValue(v: OtlpAnyValue | undefined): AttributeValue {
  if (!v) return null;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.bytesValue !== undefined) return v.bytesValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(anyValue);
  if (v.kvlistValue) return attributes(v.kvlistValue.values);
  // proto3 JSON omits default values: an empty stringValue or false boolValue arrive as {}.
  return null;
}

function attributes(kvs: OtlpKeyValue[] | undefined): Attributes {
  const out: Attributes = {};
  for (const kv of kvs ?? []) out[kv.key] = anyValue(kv.value);
  return out;
}

/** Jaeger's api_v3 JSON carries ids as hex; accept base64 (plain OTLP/JSON proto encoding) too. */
function hexId(id: string | undefined): string {
  if (!id) return '';
  if (/^[0-9a-f]+$/i.test(id) && (id.length === 16 || id.length === 32)) return id.toLowerCase();
  return Buffer.from(id, 'base64').toString('hex');
}

const STATUS_CODES: Record<string, number> = { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 };

function statusCode(code: number | string | undefined): number {
  if (code === undefined) return 0;
  return typeof code === 'number' ? code : (STATUS_CODES[code] ?? Number(code));
}

export function flattenTraces(data: OtlpTracesData): JaegerSpan[] {
  const spans: JaegerSpan[] = [];
  for (const rs of data.resourceSpans ?? []) {
    const resource = attributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        spans.push({
          traceId: hexId(s.traceId),
          spanId: hexId(s.spanId),
          parentSpanId: hexId(s.parentSpanId),
          name: s.name,
          kind: typeof s.kind === 'number' ? s.kind : Number(s.kind ?? 0),
          attributes: attributes(s.attributes),
          statusCode: statusCode(s.status?.code),
          statusMessage: s.status?.message ?? '',
          events: (s.events ?? []).map((e) => ({ name: e.name, attributes: attributes(e.attributes) })),
          resource,
          scope: ss.scope?.name ?? '',
        });
      }
    }
  }
  return spans;
}

export class JaegerQuery {
  constructor(readonly baseUrl: string) {}

  private async getJson(pathAndQuery: string): Promise<{ status: number; body: unknown }> {
    const res = await fetch(`${this.baseUrl}${pathAndQuery}`, { signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // keep the text
    }
    return { status: res.status, body };
  }

  /** Jaeger's answer to GET /api/v3/traces/{id}, as it sent it (OTLP/JSON wrapped in {"result": ...}). */
  async getTraceText(traceId: string): Promise<string> {
    const res = await fetch(`${this.baseUrl}/api/v3/traces/${traceId}`, { signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`GET /api/v3/traces/${traceId}: HTTP ${res.status} ${text}`);
    return text;
  }

  /** All spans Jaeger holds for `traceId` (api_v3 GET /api/v3/traces/{id}); [] while it has none. */
  async getTrace(traceId: string): Promise<JaegerSpan[]> {
    const { status, body } = await this.getJson(`/api/v3/traces/${traceId}`);
    if (status === 404) return [];
    if (status !== 200) throw new Error(`GET /api/v3/traces/${traceId}: HTTP ${status} ${JSON.stringify(body)}`);
    return flattenTraces((body as { result?: OtlpTracesData }).result ?? {});
  }

  /** Traces of `service` started in [from, to] (api_v3 GET /api/v3/traces), grouped by trace id. */
  async findTraces(service: string, from: Date, to: Date, limit = 1000): Promise<Map<string, JaegerSpan[]>> {
    const q = new URLSearchParams({
      'query.service_name': service,
      'query.start_time_min': from.toISOString(),
      'query.start_time_max': to.toISOString(),
      'query.num_traces': String(limit),
    });
    const { status, body } = await this.getJson(`/api/v3/traces?${q}`);
    const byTrace = new Map<string, JaegerSpan[]>();
    if (status === 404) return byTrace; // "trace not found" when nothing matches
    if (status !== 200) throw new Error(`GET /api/v3/traces?${q}: HTTP ${status} ${JSON.stringify(body)}`);
    for (const span of flattenTraces((body as { result?: OtlpTracesData }).result ?? {})) {
      const list = byTrace.get(span.traceId) ?? [];
      list.push(span);
      byTrace.set(span.traceId, list);
    }
    return byTrace;
  }

  /**
   * Trace ids found by a tag search, the way the Jaeger UI's search form does it
   * (GET /api/traces?service=...&tags={"key":"value"}).
   */
  async findTraceIdsByTags(service: string, tags: Record<string, string>, lookback = '1h'): Promise<string[]> {
    const q = new URLSearchParams({ service, tags: JSON.stringify(tags), lookback, limit: '20' });
    const { status, body } = await this.getJson(`/api/traces?${q}`);
    if (status !== 200) throw new Error(`GET /api/traces?${q}: HTTP ${status} ${JSON.stringify(body)}`);
    return ((body as { data?: { traceID: string }[] }).data ?? []).map((t) => t.traceID);
  }

  async services(): Promise<string[]> {
    const { status, body } = await this.getJson('/api/v3/services');
    if (status !== 200) throw new Error(`GET /api/v3/services: HTTP ${status}`);
    return (body as { services?: string[] }).services ?? [];
  }
}
