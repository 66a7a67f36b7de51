/**
 * The otlp sink: each ALM event becomes one OpenTelemetry log record (see events/otlp-log.ts), sent
 * over OTLP/HTTP to `/v1/logs` of a collector or any OTLP backend. Batching, retries, the bounded
 * queue and the spool are delivery's, as for every sink; this file encodes and POSTs one batch.
 *
 * OTLP is encoded by the OpenTelemetry project's own `@opentelemetry/otlp-transformer` (protobuf or
 * JSON), an optional peer dependency loaded only when this sink is configured; the resource is
 * detected with `@opentelemetry/resources` (its dependency) as an SDK would: environment
 * (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`), process and host.
 */
import { dirname } from 'node:path';
import type { EventSink } from '../delivery/delivery';
import { ALMConfigError, ALMDeliveryError } from '../errors';
import { eventLogRecord, type EventLogRecord } from '../events/otlp-log';
import type { ALMEvent } from '../events/schema';
import type { ErrorReporter } from '../report';
import { SDK_VERSION } from '../version';
import { post } from './post';

export type OtlpProtocol = 'http/protobuf' | 'http/json';

export interface OtlpSinkOptions {
  /** The full logs URL (…/v1/logs). */
  url: string;
  protocol: OtlpProtocol;
  headers: Record<string, string>;
  /** Resource attributes given in code: over the detected ones. */
  resourceAttributes: Record<string, string | number | boolean>;
  /** service.name when neither the code nor the environment names one. */
  defaultServiceName: string;
  timeoutMs: number;
}

type AttributeValue = string | number | boolean | (string | number | boolean)[];

interface Resource {
  readonly attributes: Record<string, AttributeValue | undefined>;
  readonly asyncAttributesPending?: boolean;
  waitForAsyncAttributes?(): Promise<void>;
  merge(other: Resource | null): Resource;
}

/** What alm-otel uses of the transformer and resources packages, declared structurally. */
interface Serializer {
  serializeRequest(records: unknown[]): Uint8Array | undefined;
  deserializeResponse(data: Uint8Array): { partialSuccess?: { rejectedLogRecords?: number; errorMessage?: string } };
}
interface Transformer {
  ProtobufLogsSerializer: Serializer;
  JsonLogsSerializer: Serializer;
}
interface Resources {
  resourceFromAttributes(attributes: Record<string, AttributeValue>): Resource;
  detectResources(config: { detectors: unknown[] }): Resource;
  envDetector: unknown;
  processDetector: unknown;
  hostDetector: unknown;
}

const TRANSFORMER = '@opentelemetry/otlp-transformer';
const RESOURCES = '@opentelemetry/resources';

/**
 * Loads the two packages, synchronously so that a missing one is a configuration error at `new ALM()`.
 * `require` is Node's in the CommonJS build and a `createRequire` of the module's URL in the ES module
 * build (see tsup.config.ts). `@opentelemetry/resources` is resolved from the transformer's own
 * location: it is the transformer's dependency, at the version that fits it.
 */
function loadPackages(): { transformer: Transformer; resources: Resources } {
  let transformerPath: string;
  try {
    transformerPath = require.resolve(TRANSFORMER);
  } catch {
    throw new ALMConfigError([
      `events.sink: 'otlp' encodes with ${TRANSFORMER}, which is not installed: npm install ${TRANSFORMER}` +
        ' (0.2xx with OpenTelemetry JS 2.x, 0.3xx with 3.x: the line of your other @opentelemetry packages)',
    ]);
  }
  const transformer = require(transformerPath) as Transformer;
  const resources = require(require.resolve(RESOURCES, { paths: [dirname(transformerPath)] })) as Resources;
  return { transformer, resources };
}

function detectResource(resources: Resources, options: OtlpSinkOptions): Resource {
  // As NodeSDK does: environment, process and host; attributes given in code win over detected ones.
  const detected = resources.detectResources({
    detectors: [resources.processDetector, resources.hostDetector, resources.envDetector],
  });
  const fallback = resources.resourceFromAttributes({
    'service.name': options.defaultServiceName,
    'telemetry.sdk.language': 'nodejs',
  });
  return fallback.merge(detected).merge(resources.resourceFromAttributes(options.resourceAttributes));
}

const SCOPE = { name: 'alm-otel', version: SDK_VERSION };

export class OtlpLogSink implements EventSink {
  readonly serialized = true;
  readonly concurrent = true;
  readonly #url: string;
  readonly #headers: Record<string, string>;
  readonly #secrets: string[];
  readonly #timeoutMs: number;
  readonly #serializer: Serializer;
  readonly #protobuf: boolean;
  readonly #resource: Resource;
  #resourceReady: Promise<void> | undefined;

  constructor(
    options: OtlpSinkOptions,
    private readonly report: ErrorReporter,
  ) {
    const { transformer, resources } = loadPackages();
    this.#protobuf = options.protocol === 'http/protobuf';
    this.#serializer = this.#protobuf ? transformer.ProtobufLogsSerializer : transformer.JsonLogsSerializer;
    this.#url = options.url;
    this.#timeoutMs = options.timeoutMs;
    this.#headers = {
      ...options.headers,
      'content-type': this.#protobuf ? 'application/x-protobuf' : 'application/json',
    };
    // Header values (an authorization, an API key) never appear in a message.
    this.#secrets = Object.values(options.headers).filter((value) => value.length >= 4);
    this.#resource = detectResource(resources, options);
    // The host detector's machine id arrives later: wait for it once, before the first batch.
    this.#resourceReady = this.#resource.waitForAsyncAttributes?.().catch(() => undefined);
  }

  async write(events: ALMEvent[], lines?: readonly string[]): Promise<void> {
    if (this.#resourceReady !== undefined) {
      await this.#resourceReady;
      this.#resourceReady = undefined;
    }
    const records = new Array<EventLogRecord & { resource: Resource; instrumentationScope: typeof SCOPE }>(
      events.length,
    );
    for (let i = 0; i < events.length; i++) {
      const record = eventLogRecord(events[i]!, lines?.[i] ?? JSON.stringify(events[i]));
      records[i] = { ...record, resource: this.#resource, instrumentationScope: SCOPE };
    }
    const body = this.#serializer.serializeRequest(records);
    if (body === undefined) {
      throw new ALMDeliveryError(`OTLP encoding of ${events.length} events failed`, events.length);
    }
    const answer = await post({
      url: this.#url,
      headers: this.#headers,
      body,
      timeoutMs: this.#timeoutMs,
      count: events.length,
      secrets: this.#secrets,
    });
    this.#checkPartialSuccess(answer, events.length);
  }

  /** A 200 may still say that the backend rejected some records (OTLP partial success): tell onError. */
  #checkPartialSuccess(answer: Uint8Array, count: number): void {
    if (answer.byteLength === 0) return;
    try {
      const partial = this.#serializer.deserializeResponse(answer).partialSuccess;
      const rejected = Number(partial?.rejectedLogRecords ?? 0);
      if (rejected > 0) {
        const why = partial?.errorMessage ? `: ${String(partial.errorMessage).slice(0, 200)}` : '';
        this.report(new Error(`OTLP receiver ${this.#url} rejected ${rejected} of ${count} event records${why}`));
      }
    } catch {
      // An answer that is not an OTLP response (a proxy's page): the batch was accepted all the same.
    }
  }
}

type Env = Record<string, string | undefined>;

/** OTEL_EXPORTER_OTLP_*_HEADERS: `key=value` pairs separated by commas, values percent-encoded. */
function parseHeaders(text: string | undefined, variable: string): Record<string, string> {
  const headers: Record<string, string> = {};
  if (text === undefined || text.trim() === '') return headers;
  for (const pair of text.split(',')) {
    const at = pair.indexOf('=');
    const key = at > 0 ? pair.slice(0, at).trim() : '';
    if (key === '') throw new ALMConfigError([`${variable}: expected key=value pairs separated by commas`]);
    let value = pair.slice(at + 1).trim();
    try {
      value = decodeURIComponent(value);
    } catch {
      // Not percent-encoded after all: taken as it is.
    }
    headers[key.toLowerCase()] = value;
  }
  return headers;
}

function urlFrom(text: string, source: string): URL {
  if (!URL.canParse(text) || !/^https?:$/.test(new URL(text).protocol)) {
    throw new ALMConfigError([`${source}: must be an http:// or https:// URL`]);
  }
  return new URL(text);
}

function withLogsPath(url: URL): string {
  if (!/\/v1\/logs\/?$/.test(url.pathname)) url.pathname = url.pathname.replace(/\/+$/, '') + '/v1/logs';
  return url.href;
}

/** The otlp sink's options from `events` and the OTLP exporter environment variables (the code's options win). */
export function otlpSinkOptions(
  events: {
    endpoint?: string | undefined;
    apiKey?: string | undefined;
    headers: Record<string, string>;
    otlpProtocol?: OtlpProtocol | undefined;
    resourceAttributes: Record<string, string | number | boolean>;
    timeoutMs: number;
  },
  agentId: string,
  env: Env = process.env,
): OtlpSinkOptions {
  let url: string;
  if (events.endpoint !== undefined) url = withLogsPath(new URL(events.endpoint));
  else if (env.OTEL_EXPORTER_OTLP_LOGS_ENDPOINT) {
    url = urlFrom(env.OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, 'OTEL_EXPORTER_OTLP_LOGS_ENDPOINT').href;
  } else if (env.OTEL_EXPORTER_OTLP_ENDPOINT) {
    url = withLogsPath(urlFrom(env.OTEL_EXPORTER_OTLP_ENDPOINT, 'OTEL_EXPORTER_OTLP_ENDPOINT'));
  } else url = 'http://localhost:4318/v1/logs';

  const protocol = events.otlpProtocol ?? env.OTEL_EXPORTER_OTLP_LOGS_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL;
  if (protocol !== undefined && protocol !== 'http/protobuf' && protocol !== 'http/json') {
    const variable = env.OTEL_EXPORTER_OTLP_LOGS_PROTOCOL
      ? 'OTEL_EXPORTER_OTLP_LOGS_PROTOCOL'
      : 'OTEL_EXPORTER_OTLP_PROTOCOL';
    throw new ALMConfigError([
      `events.otlpProtocol: ${variable}=${protocol} is not one the otlp sink speaks ('http/protobuf' or 'http/json'): set events.otlpProtocol`,
    ]);
  }

  const headers: Record<string, string> = {
    ...parseHeaders(env.OTEL_EXPORTER_OTLP_HEADERS, 'OTEL_EXPORTER_OTLP_HEADERS'),
    ...parseHeaders(env.OTEL_EXPORTER_OTLP_LOGS_HEADERS, 'OTEL_EXPORTER_OTLP_LOGS_HEADERS'),
  };
  for (const [key, value] of Object.entries(events.headers)) headers[key.toLowerCase()] = value;
  if (events.apiKey !== undefined) headers.authorization = `Bearer ${events.apiKey}`;

  return {
    url,
    protocol: protocol ?? 'http/protobuf',
    headers,
    resourceAttributes: events.resourceAttributes,
    defaultServiceName: agentId,
    timeoutMs: events.timeoutMs,
  };
}
