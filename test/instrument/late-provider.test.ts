/**
 * No tracer is bound when ALM is built: a provider registered afterwards is used, whichever copy of
 * @opentelemetry/api registers it. The second copy is a real, separate instance of the API module
 * (jest.isolateModules loads it afresh, with its own ProxyTracerProvider), as an ES module app on
 * api 1.10 has beside alm-otel's CommonJS copy; both share the global registry.
 */
import * as api from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { ALM, type ALMEvent } from '../../src';

function otherApiCopy(): typeof api {
  let copy: typeof api | undefined;
  jest.isolateModules(() => {
    copy = require('@opentelemetry/api') as typeof api;
  });
  expect(copy).toBeDefined();
  expect(copy!.trace).not.toBe(api.trace);
  return copy!;
}

async function scenario(alm: ALM, events: ALMEvent[]): Promise<void> {
  const search = alm.tool('search', (q: string) => q.length);
  const remove = alm.tool('delete_all', () => 'gone');
  await alm.run({ purpose: 'late provider' }, () =>
    alm.task({ type: 'research' }, () => {
      search('otel');
      expect(() => remove()).toThrow(/denied/i);
    }),
  );
  await alm.flush();
  expect(events.length).toBeGreaterThan(0);
}

function newAlm(events: ALMEvent[]): ALM {
  return new ALM({
    agentId: 'late-agent',
    policy: { deniedTools: ['delete_*'] },
    events: { sink: (batch) => void events.push(...batch), flushOnExit: false },
  });
}

describe('a provider registered after new ALM()', () => {
  beforeEach(() => {
    api.trace.disable();
    api.context.disable();
  });
  afterAll(() => {
    api.trace.disable();
    api.context.disable();
  });

  it.each([
    ['the same copy of @opentelemetry/api', () => api],
    ['another copy of @opentelemetry/api', otherApiCopy],
  ])('gets nested spans and linked events when registered through %s', async (_label, copyOf) => {
    const events: ALMEvent[] = [];
    const alm = newAlm(events);
    // A call before any provider is registered: no span, and nothing bound that would stay a no-op.
    expect(alm.tool('search', () => 1)()).toBe(1);
    // Registered only now, after ALM was built, as the README's order has it.
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({
      spanProcessors: [...alm.spanProcessors, new SimpleSpanProcessor({ exporter })],
    });
    const registry = copyOf();
    registry.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    expect(registry.trace.setGlobalTracerProvider(provider)).toBe(true);

    await scenario(alm, events);
    await alm.shutdown();
    const spans = exporter.getFinishedSpans();
    const byName = (prefix: string) => spans.filter((s) => s.name.startsWith(prefix));
    const [run] = byName('invoke_agent');
    const [task] = byName('task');
    const tools = byName('execute_tool');
    expect(run).toBeDefined();
    expect(task?.parentSpanContext?.spanId).toBe(run!.spanContext().spanId);
    expect(tools).toHaveLength(2);
    for (const tool of tools) expect(tool.parentSpanContext?.spanId).toBe(task!.spanContext().spanId);
    const traceId = run!.spanContext().traceId;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    const inRun = events.filter((e) => e.run_id !== null);
    expect(inRun.length).toBeLessThan(events.length);
    for (const event of events) expect(event.trace_id).toBe(event.run_id === null ? null : traceId);
    expect(events.find((e) => e.event_type === 'policy.decision' && e.metadata.decision === 'deny')).toBeDefined();
    await provider.shutdown();
  });
});
