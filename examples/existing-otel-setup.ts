/**
 * alm-otel inside an application that already has OpenTelemetry: a NodeSDK exporting OTLP/HTTP.
 * alm's span processors join the SDK's list. This is also how the toy agent's traces reach Jaeger
 * through the OpenTelemetry Collector of docker-compose.yml:
 *
 *   docker compose up -d
 *   npm run example:otlp          # then open http://localhost:16686 and pick the service
 *
 * Honours the standard variables:
 *   OTEL_EXPORTER_OTLP_ENDPOINT   collector base URL (default http://localhost:4318; /v1/traces is appended)
 *   OTEL_EXPORTER_OTLP_HEADERS    e.g. authorization=Bearer%20xyz, for a backend that needs it
 *   OTEL_SERVICE_NAME             service name in Jaeger (default here: toy-agent)
 *   OTEL_RESOURCE_ATTRIBUTES      e.g. deployment.environment.name=dev,service.version=1.2.3
 *
 * ALM events still go to stdout as JSON lines; each names its trace in `trace_id`.
 */
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace';
import { createToyAlm, runToyAgent } from './toy-agent';

/** Our default service name applies only when neither standard variable names one. */
function defaultServiceName(): string | undefined {
  const fromAttributes = /(^|,)\s*service\.name\s*=/.test(process.env.OTEL_RESOURCE_ATTRIBUTES ?? '');
  return process.env.OTEL_SERVICE_NAME || fromAttributes ? undefined : 'toy-agent';
}

async function main(): Promise<void> {
  const alm = createToyAlm();
  const sdk = new NodeSDK({
    serviceName: defaultServiceName(),
    // NodeSDK ignores traceExporter when spanProcessors is given: the OTLP exporter gets its own
    // batch processor next to alm's. With no arguments it reads the OTEL_EXPORTER_OTLP_* variables.
    spanProcessors: [...alm.spanProcessors, new BatchSpanProcessor({ exporter: new OTLPTraceExporter() })],
    // Traces only, so that nothing but spans goes to the endpoint. collector-config.yaml also has a
    // metrics pipeline (to Prometheus): alm-otel's GenAI metrics reach it from a MeterProvider with an
    // OTLP metric exporter (docs/opentelemetry.md#metrics). It has no logs pipeline.
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  try {
    await runToyAgent(alm);
  } finally {
    // alm first (its events), then the SDK (flushes the spans to the collector).
    await alm.shutdown();
    await sdk.shutdown();
  }
  const endpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT || 'http://localhost:4318';
  console.error(
    `spans sent to ${endpoint}. With docker-compose.yml: http://localhost:16686/trace/<the trace id above>`,
  );
}

void main();
