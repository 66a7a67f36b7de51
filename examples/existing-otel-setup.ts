/**
 * alm-otel inside an application that already has OpenTelemetry: a NodeSDK exporting OTLP/HTTP.
 * alm's span processors join the SDK's list (when `spanProcessors` is given, NodeSDK ignores
 * `traceExporter`, so the OTLP exporter gets its own batch processor here). The exporter honours
 * OTEL_EXPORTER_OTLP_ENDPOINT (default http://localhost:4318), OTEL_SERVICE_NAME and
 * OTEL_RESOURCE_ATTRIBUTES. ALM events still go to stdout.
 *
 *   OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 npx tsx examples/existing-otel-setup.ts
 */
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createToyAlm, runToyAgent } from './toy-agent';

async function main(): Promise<void> {
  const alm = createToyAlm();
  const sdk = new NodeSDK({
    serviceName: process.env.OTEL_SERVICE_NAME ?? 'toy-agent',
    spanProcessors: [...alm.spanProcessors, new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  sdk.start();
  try {
    await runToyAgent(alm);
  } finally {
    // alm first (its events), then the SDK (flushes the spans to the collector).
    await alm.shutdown();
    await sdk.shutdown();
  }
}

void main();
