/**
 * The tracer alm-otel's spans come from when no `tracerProvider` option is given: resolved from the
 * global `@opentelemetry/api` registry when a span starts, never bound when `ALM` is built.
 *
 * A tracer taken at construction from `trace.getTracer()` belongs to the proxy provider of alm-otel's
 * own copy of the API. When the application registers its provider through another copy (an ES module
 * app on `@opentelemetry/api` 1.10, which ships separate ESM and CommonJS builds, is the common case),
 * that proxy never gets a delegate and every span would be a no-op. The global registry is shared by
 * every compatible copy, so asking it for the provider on each span finds the application's, however it
 * registered it. The answer is cached: a new tracer is taken only when the provider changes.
 */
import { trace, type Context, type Span, type SpanOptions, type Tracer, type TracerProvider } from '@opentelemetry/api';

export class GlobalTracer implements Tracer {
  private provider: TracerProvider | undefined;
  private tracer: Tracer | undefined;

  constructor(
    private readonly name: string,
    private readonly version: string,
  ) {}

  /** The tracer of the provider registered now (the API's no-op proxy until one is). */
  current(): Tracer {
    const provider = trace.getTracerProvider();
    if (provider !== this.provider || this.tracer === undefined) {
      this.tracer = provider.getTracer(this.name, this.version);
      this.provider = provider;
    }
    return this.tracer;
  }

  startSpan(name: string, options?: SpanOptions, context?: Context): Span {
    return this.current().startSpan(name, options, context);
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(name: string, options: SpanOptions, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    options: SpanOptions,
    context: Context,
    fn: F,
  ): ReturnType<F>;
  startActiveSpan(...args: unknown[]): unknown {
    const tracer = this.current() as { startActiveSpan(...a: unknown[]): unknown };
    return tracer.startActiveSpan(...args);
  }
}
