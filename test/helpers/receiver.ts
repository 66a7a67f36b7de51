/**
 * A real ALM ingest endpoint on 127.0.0.1 (node:http), scriptable per request: answer, fail with a
 * status, reset the connection, or hang. It records every event it accepted, by event_id.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { ALMEvent } from '../../src';
import { eventFromLogRecord, type JsonLogRecord } from '../../src/events/otlp-log';

/** An OTLP/JSON log record as a receiver gets it, with its resource's attributes. */
export interface ReceivedLogRecord extends JsonLogRecord {
  timeUnixNano?: string | number;
  traceId?: string;
  spanId?: string;
  severityNumber?: number;
  attributes?: { key: string; value: Record<string, unknown> }[];
  resource: Record<string, unknown>;
}

interface LogsRequest {
  resourceLogs?: {
    resource?: { attributes?: { key: string; value: Record<string, unknown> }[] };
    scopeLogs?: { logRecords?: JsonLogRecord[] }[];
  }[];
}

/** The records of an OTLP/JSON ExportLogsServiceRequest, each with its resource's attributes flattened. */
export function logRecordsOf(request: LogsRequest): ReceivedLogRecord[] {
  const records: ReceivedLogRecord[] = [];
  for (const resourceLogs of request.resourceLogs ?? []) {
    const resource: Record<string, unknown> = {};
    for (const { key, value } of resourceLogs.resource?.attributes ?? []) resource[key] = Object.values(value)[0];
    for (const scopeLogs of resourceLogs.scopeLogs ?? []) {
      for (const record of scopeLogs.logRecords ?? []) records.push({ ...record, resource });
    }
  }
  return records;
}

export type Behaviour =
  | { kind: 'ok' }
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string }
  | { kind: 'reset' }
  | { kind: 'hang' };

export interface ReceivedRequest {
  at: number;
  method: string | undefined;
  /** Path and query, as requested. */
  url: string;
  /** The Content-Length header, and the body's UTF-8 bytes as received. */
  contentLength: string | undefined;
  bytes: number;
  transferEncoding: string | undefined;
  authorization: string | undefined;
  contentType: string | undefined;
  count: number;
  answered: string;
}

export class Receiver {
  /** Accepted events by event_id (a redelivered event lands on the same key). */
  readonly events = new Map<string, ALMEvent>();
  readonly requests: ReceivedRequest[] = [];
  /** Behaviours for the next requests, in order; when empty, `fallback` applies. */
  readonly script: Behaviour[] = [];
  fallback: (events: ALMEvent[]) => Behaviour = () => ({ kind: 'ok' });
  /** OTLP/JSON log records accepted at /v1/logs, in arrival order (redeliveries included). */
  readonly logRecords: ReceivedLogRecord[] = [];
  /** The accepted OTLP/JSON logs requests' bodies, as sent. */
  readonly logBodies: string[] = [];
  /** TCP connections accepted so far. */
  connections = 0;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly hanging = new Set<ServerResponse>();
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get hangingCount(): number {
    return this.hanging.size;
  }

  /** Listen (on `port`, or a free one). */
  async start(port = this.port): Promise<void> {
    const server = createServer((req, res) => this.handle(req, res));
    server.on('connection', (socket) => {
      this.connections++;
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  /** Stop listening and cut every connection, hanging ones included. */
  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.hanging.clear();
    const server = this.server;
    this.server = undefined;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Answer every hanging request with 200 and accept its events. */
  release(): void {
    for (const res of this.hanging) res.writeHead(200).end('{}');
    this.hanging.clear();
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = raw.toString('utf8');
      const path = (req.url ?? '').split('?', 1)[0]!;
      const logs = path.endsWith('/v1/logs') && req.headers['content-type'] === 'application/json';
      const records = logs ? logRecordsOf(JSON.parse(body) as LogsRequest) : [];
      // A request without a body (a GET after a redirect) carries no events.
      const events =
        path.endsWith('/v1/events') && body !== ''
          ? ((JSON.parse(body) as { events: ALMEvent[] }).events ?? [])
          : records.map((record) => eventFromLogRecord(record) as ALMEvent);
      const behaviour = this.script.shift() ?? this.fallback(events);
      this.requests.push({
        at: Date.now(),
        method: req.method,
        url: req.url ?? '',
        contentLength: req.headers['content-length'],
        bytes: raw.length,
        transferEncoding: req.headers['transfer-encoding'],
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
        count: events.length,
        answered: behaviour.kind === 'status' ? String(behaviour.status) : behaviour.kind,
      });
      switch (behaviour.kind) {
        case 'ok':
          for (const event of events) this.events.set(event.event_id, event);
          this.logRecords.push(...records);
          if (logs) this.logBodies.push(body);
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"accepted":true}');
          return;
        case 'status':
          res.writeHead(behaviour.status, behaviour.headers).end(behaviour.body ?? '');
          return;
        case 'reset':
          req.socket.destroy();
          return;
        case 'hang':
          this.hanging.add(res);
          // Accept the events only if the request is released, not if the client gave up.
          res.on('finish', () => {
            for (const event of events) this.events.set(event.event_id, event);
          });
          return;
      }
    });
  }
}

/** A port nothing listens on (yet). */
export async function freePort(): Promise<number> {
  const probe = new Receiver();
  await probe.start(0);
  const port = probe.port;
  await probe.stop();
  return port;
}
