import type { EventsConfig } from '../config/schema';
import type { EventSink } from '../delivery/delivery';
import type { ErrorReporter } from '../report';
import { FileSink } from './file';
import { FunctionSink } from './function';
import { HttpSink } from './http';
import { OtlpLogSink, otlpSinkOptions } from './otlp';
import { StdoutSink } from './stdout';

/** The sink an `events` configuration names, or null for 'none'. `agentId` names the service when nothing else does (otlp). */
export function createSink(config: EventsConfig, report: ErrorReporter, agentId: string): EventSink | null {
  const sink = config.sink;
  if (typeof sink === 'function') return new FunctionSink(sink);
  switch (sink) {
    case 'none':
      return null;
    case 'stdout':
      return new StdoutSink(report);
    case 'file':
      return new FileSink(config.path);
    case 'http':
      // The config schema guarantees an endpoint for the http sink.
      return new HttpSink({ endpoint: config.endpoint!, apiKey: config.apiKey, timeoutMs: config.timeoutMs });
    case 'otlp':
      return new OtlpLogSink(otlpSinkOptions(config, agentId), report);
  }
}

export { FileSink, FunctionSink, HttpSink, OtlpLogSink, StdoutSink };
