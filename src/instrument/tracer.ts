/**
 * The tracer alm-otel's spans come from when no `tracerProvider` option is given: found in the global
 * `@opentelemetry/api` registry when spans start, never bound when `ALM` is built.
 *
 * A tracer taken at construction from `trace.getTracer()` belongs to the proxy provider of alm-otel's
 * own copy of the API. When the application registers its provider through another copy (an ES module
 * app on `@opentelemetry/api` 1.10, which ships separate ESM and CommonJS builds, is the common case),
 * that proxy never gets a delegate and every span would be a no-op. The global registry is shared by
 * every compatible copy: until a provider is registered, each span asks it again; once one is, its
 * tracer is kept, as `trace.getTracer()` keeps it, and a span costs what it costs through the API's own
 * proxy tracer.
 */
import { trace, type Context, type Span, type SpanOptions, type Tracer, type TracerProvider } from '@opentelemetry/api';

/**
 * Where every 1.x copy of the API keeps its globals (`@opentelemetry/api`'s global-utils). Read only to
 * skip a lookup while nothing is registered, or while the registration is unchanged (metrics.ts); what
 * is registered is always read through the API.
 */
export const API_GLOBALS = Symbol.for('opentelemetry.js.api.1');

/** The API's ProxyTracerProvider (of whichever copy registered it); its delegate is the registered provider. */
interface MaybeProxyProvider extends TracerProvider {
  getDelegateTracer?(name: string, version?: string): Tracer | undefined;
}

export class GlobalTracer implements Tracer {
  /** The registered provider's tracer, once there is one. */
  private bound: Tracer | undefined;
  /** The no-op stand-in while nothing is registered, and the provider it came from. */
  private standIn: Tracer | undefined;
  private standInProvider: TracerProvider | undefined;

  constructor(
    private readonly name: string,
    private readonly version: string,
  ) {}

  current(): Tracer {
    return this.bound ?? this.resolve();
  }

  private resolve(): Tracer {
    if (
      this.standIn !== undefined &&
      (globalThis as Record<symbol, { trace?: unknown }>)[API_GLOBALS]?.trace === undefined
    ) {
      return this.standIn;
    }
    const provider: MaybeProxyProvider = trace.getTracerProvider();
    if (typeof provider.getDelegateTracer !== 'function') {
      // Not the API's proxy: a provider registered some other way. Keep its tracer.
      return (this.bound = provider.getTracer(this.name, this.version));
    }
    const delegate = provider.getDelegateTracer(this.name, this.version);
    if (delegate !== undefined) return (this.bound = delegate);
    if (this.standInProvider !== provider || this.standIn === undefined) {
      this.standIn = provider.getTracer(this.name, this.version);
      this.standInProvider = provider;
    }
    return this.standIn;
  }

  startSpan(name: string, options?: SpanOptions, context?: Context): Span {
    return (this.bound ?? this.resolve()).startSpan(name, options, context);
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
