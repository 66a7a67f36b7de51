// A real in-process OpenTelemetry SDK with alm-otel's span processors, as an application wires it.
import assert from 'node:assert/strict';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { ALM, ALMEventSchema } from 'alm-otel';

/**
 * An ALM instance collecting its events, and (unless `provider: false`, when the application's globals
 * are left alone) a registered provider with alm's processors.
 */
export function setup({ policy, provider: withProvider = true, almProcessors = true, extraProcessors = [] } = {}) {
  if (withProvider) {
    trace.disable();
    context.disable();
  }
  const events = [];
  const errors = [];
  const alm = new ALM({
    agentId: 'framework-agent',
    policy,
    events: { sink: (batch) => void events.push(...batch), flushIntervalMs: 10, flushOnExit: false },
    onError: (error) => errors.push(error),
  });
  const exporter = new InMemorySpanExporter();
  let provider;
  if (withProvider) {
    provider = new TracerProvider({
      spanProcessors: [
        ...(almProcessors ? alm.spanProcessors : []),
        ...extraProcessors,
        new SimpleSpanProcessor({ exporter }),
      ],
    });
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(provider);
  }
  return {
    alm,
    events,
    errors,
    exporter,
    provider,
    spans: () => exporter.getFinishedSpans(),
    /** Every event so far, each checked against the exported schema. */
    async flush() {
      await alm.flush();
      for (const event of events) ALMEventSchema.parse(event);
      return events;
    },
    async close() {
      await alm.shutdown();
      if (provider !== undefined) {
        await provider.shutdown();
        trace.disable();
        context.disable();
      }
      assert.deepEqual(errors, [], 'alm-otel reported no errors');
    },
  };
}

/**
 * The call's events: exactly tool.request, policy.decision, tool.response, once each, all under
 * `callId`, for `toolName`, with the given decision and status. Returns them.
 */
export function assertOneCall(events, { toolName, callId, decision, status }) {
  const mine = events.filter((e) => e.metadata?.tool_call_id === callId);
  assert.deepEqual(
    mine.map((e) => e.event_type),
    ['tool.request', 'policy.decision', 'tool.response'],
    `events of call ${callId}`,
  );
  for (const e of mine) assert.equal(e.metadata.tool_name, toolName);
  assert.equal(mine[1].metadata.decision, decision);
  assert.equal(mine[2].metadata.status, status);
  return mine;
}

export function toolCallsSummary(events) {
  const ends = events.filter((e) => e.event_type === 'run.end');
  assert.equal(ends.length, 1, 'one run.end');
  return ends[0].metadata.summary.tool_calls;
}

/** The run.end summary of the one run in `events`. */
export function runSummary(events) {
  const ends = events.filter((e) => e.event_type === 'run.end');
  assert.equal(ends.length, 1, 'one run.end');
  return ends[0].metadata.summary;
}

/**
 * Two OpenInference LLM spans under `maxLlmCallsPerRun: 1`: the first unflagged, the second (started once
 * the budget was reached) flagged; both counted in the run's summary.
 */
export async function assertSecondModelSpanFlagged(h) {
  const llmSpans = h.spans().filter((s) => s.attributes['openinference.span.kind'] === 'LLM');
  assert.equal(llmSpans.length, 2);
  assert.equal(llmSpans[0].attributes['alm.policy.violation'], undefined);
  assert.equal(llmSpans[1].attributes['alm.policy.violation'], true, 'the second model span is flagged');
  assert.equal(llmSpans[1].attributes['alm.budget'], 'llm_calls');
  assert.equal(runSummary(await h.flush()).llm_calls, 2);
}
