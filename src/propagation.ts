/**
 * Runs that cross processes. Not tied to any transport: MCP's `_meta` (adapters/mcp.ts), HTTP headers
 * through the application's own propagators, or any other carrier.
 *
 * - Sending side: a run's context carries its id in the OpenTelemetry baggage (`alm.run_id`, and
 *   `alm.label.<name>` for labels), so whatever propagates the context propagates the run too.
 * - Receiving side: a context whose baggage carries `alm.run_id`, with no local run open, belongs to
 *   that remote run (instrument/remote-run.ts): calls made in it record under its run id.
 *
 * `injectContext` / `extractContext` write and read W3C Trace Context and Baggage with or without a
 * global propagator: the application's propagator when one is registered, and W3C for whatever it does
 * not carry (`traceparent`, `baggage`). @opentelemetry/core's two W3C propagators are bundled, not a
 * dependency (see tsup.config.ts).
 */
import { propagation, type Baggage, type Context, type TextMapGetter, type TextMapSetter } from '@opentelemetry/api';
import { W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';

/** The baggage entry that names the run a context belongs to. */
export const RUN_ID_BAGGAGE_KEY = 'alm.run_id';
/** Baggage entries `alm.label.<name>`: the run's labels. */
export const LABEL_BAGGAGE_PREFIX = 'alm.label.';

/** A run id accepted from another process: what alm makes (UUIDs) and other printable ids, bounded. */
const MAX_REMOTE_RUN_ID = 128;
const PRINTABLE = /^[\x21-\x7e]+$/;

/** The context with the run's id (and labels) in its baggage, beside what the baggage held already. */
export function withRunBaggage(ctx: Context, runId: string, labels?: Readonly<Record<string, string>>): Context {
  let baggage: Baggage = propagation.getBaggage(ctx) ?? propagation.createBaggage();
  baggage = baggage.setEntry(RUN_ID_BAGGAGE_KEY, { value: runId });
  if (labels !== undefined) {
    for (const [name, value] of Object.entries(labels))
      baggage = baggage.setEntry(LABEL_BAGGAGE_PREFIX + name, { value });
  }
  return propagation.setBaggage(ctx, baggage);
}

/** The run a context's baggage names (sent by another process), if it names a usable one. */
export function remoteRunId(ctx: Context): string | undefined {
  const value = propagation.getBaggage(ctx)?.getEntry(RUN_ID_BAGGAGE_KEY)?.value;
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_REMOTE_RUN_ID) return undefined;
  return PRINTABLE.test(value) ? value : undefined;
}

/** The labels a context's baggage carries (`alm.label.<name>`), by name. */
export function remoteRunLabels(ctx: Context): Record<string, string> {
  const labels: Record<string, string> = {};
  const baggage = propagation.getBaggage(ctx);
  if (baggage === undefined) return labels;
  for (const [key, entry] of baggage.getAllEntries()) {
    if (key.startsWith(LABEL_BAGGAGE_PREFIX) && key.length > LABEL_BAGGAGE_PREFIX.length) {
      labels[key.slice(LABEL_BAGGAGE_PREFIX.length)] = entry.value;
    }
  }
  return labels;
}

/** A string-keyed bag of values, such as MCP's `params._meta` or a headers object. */
export type Carrier = Record<string, unknown>;

const setter: TextMapSetter<Carrier> = {
  set(carrier, key, value) {
    carrier[key] = value;
  },
};

const getter: TextMapGetter<Carrier> = {
  keys: (carrier) => Object.keys(carrier),
  get(carrier, key) {
    const value = carrier[key];
    return typeof value === 'string' || (Array.isArray(value) && value.every((v) => typeof v === 'string'))
      ? (value as string | string[])
      : undefined;
  },
};

const traceContext = new W3CTraceContextPropagator();
const baggage = new W3CBaggagePropagator();
const TRACEPARENT = 'traceparent';
const BAGGAGE = 'baggage';

/**
 * Write `ctx`'s trace context and baggage into `carrier`: the global propagator's fields when one is
 * registered, and W3C `traceparent` / `tracestate` / `baggage` for whichever of these it did not write.
 */
export function injectContext(ctx: Context, carrier: Carrier): void {
  // The API's default propagator (none registered) is a no-op with no fields.
  if (propagation.fields().length > 0) propagation.inject(ctx, carrier, setter);
  if (carrier[TRACEPARENT] === undefined) traceContext.inject(ctx, carrier, setter);
  if (carrier[BAGGAGE] === undefined) baggage.inject(ctx, carrier, setter);
}

/**
 * `parent` with the trace context and baggage `carrier` holds: W3C first, then the global propagator
 * when one is registered (so its formats win where both are present).
 */
export function extractContext(parent: Context, carrier: Carrier): Context {
  let ctx = baggage.extract(traceContext.extract(parent, carrier, getter), carrier, getter);
  if (propagation.fields().length > 0) ctx = propagation.extract(ctx, carrier, getter);
  return ctx;
}
