import type { EventsConfig } from '../config/schema';
import type { EventSink } from '../events/pipeline';
import type { ErrorReporter } from '../report';
import { FunctionSink } from './function';
import { HttpSink } from './http';
import { StdoutSink } from './stdout';

/** The sink an `events` configuration names, or null for 'none'. */
export function createSink(config: EventsConfig, report: ErrorReporter): EventSink | null {
  const sink = config.sink;
  if (typeof sink === 'function') return new FunctionSink(sink);
  switch (sink) {
    case 'none':
      return null;
    case 'stdout':
      return new StdoutSink(report);
    case 'http':
      // The config schema guarantees an endpoint for the http sink.
      return new HttpSink({ endpoint: config.endpoint!, apiKey: config.apiKey, timeoutMs: config.timeoutMs });
  }
}

export { FunctionSink, HttpSink, StdoutSink };
