/**
 * The OpenTelemetry SDK shapes alm-otel's public API exposes, written structurally from
 * `@opentelemetry/api` types alone, so the published types need no SDK package installed (the SDK is
 * an optional peer). Each is the part of the SDK's own interface alm-otel uses, identical in
 * `@opentelemetry/sdk-trace` 2.x and 3.x: an SDK's `Span` and `ReadableSpan` are assignable to these,
 * and these processors and exporters are accepted by either line's `TracerProvider` and `NodeSDK`
 * (the consumer type-check matrix, `npm run test:consumers`, checks both).
 */
import type {
  Attributes,
  Context,
  HrTime,
  Link,
  Span as ApiSpan,
  SpanContext,
  SpanKind,
  SpanStatus,
} from '@opentelemetry/api';

/** An event recorded on a span (the SDK's `TimedEvent`). */
export interface TimedEvent {
  time: HrTime;
  name: string;
  attributes?: Attributes;
  droppedAttributesCount?: number;
}

/** A span as span processors see it when it ends and exporters receive it (part of the SDK's `ReadableSpan`). */
export interface ReadableSpan {
  readonly name: string;
  readonly kind: SpanKind;
  readonly spanContext: () => SpanContext;
  readonly parentSpanContext?: SpanContext;
  readonly startTime: HrTime;
  readonly endTime: HrTime;
  readonly status: SpanStatus;
  readonly attributes: Attributes;
  readonly links: Link[];
  readonly events: TimedEvent[];
  readonly duration: HrTime;
  readonly ended: boolean;
  readonly instrumentationScope: { readonly name: string; readonly version?: string; readonly schemaUrl?: string };
}

/** A live span as a span processor's `onStart` receives it (the SDK's `Span`). */
export type Span = ApiSpan & ReadableSpan;

/** A span processor, as a `TracerProvider` or `NodeSDK` takes it in `spanProcessors`. */
export interface SpanProcessor {
  onStart(span: Span, parentContext: Context): void;
  /** Called while the span can still be written to (sdk-trace-base 2.3 and later; optional there too). */
  onEnding?(span: Span): void;
  onEnd(span: ReadableSpan): void;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

/** What a span exporter reports for one batch (the SDK's `ExportResult`: 0 success, 1 failed). */
export interface ExportResult {
  code: 0 | 1;
  error?: Error;
}

/** A span exporter, as `BatchSpanProcessor` and `SimpleSpanProcessor` take it. */
export interface SpanExporter {
  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void;
  shutdown(): Promise<void>;
  forceFlush?(): Promise<void>;
}
