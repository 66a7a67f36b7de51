/**
 * Delivery work (timers, requests) must not run inside the agent's trace: an instrumented HTTP
 * client would otherwise record every POST /v1/events as a span of whatever run happened to queue
 * the first event. Work started through `detached` runs in the root context with tracing suppressed.
 */
import { ROOT_CONTEXT, context, createContextKey } from '@opentelemetry/api';

// The key @opentelemetry/core's suppressTracing() sets; context keys are Symbol.for(description), so
// this is the same key without depending on a particular core version.
const SUPPRESS_TRACING_KEY = createContextKey('OpenTelemetry SDK Context Key SUPPRESS_TRACING');
const DETACHED = ROOT_CONTEXT.setValue(SUPPRESS_TRACING_KEY, true);

export function detached<T>(fn: () => T): T {
  return context.with(DETACHED, fn);
}
