/**
 * ALMEventExporter derives the ALM events from finished spans in any span pipeline, with the same
 * translation ALM uses: the same agent run yields the same event stream both ways.
 */
import { ALMEventExporter, type ALMEvent } from '../../src';
import { createHarness, validated, type Harness } from '../helpers/harness';
import { SimpleSpanProcessor } from '@opentelemetry/sdk-trace';

/** Events without what differs by construction: ids, timestamps, measured latencies. */
function comparable(events: ALMEvent[]): unknown[] {
  return events
    .map((e) => {
      const { event_id: _id, timestamp: _ts, ...rest } = e;
      const metadata = { ...(rest.metadata as Record<string, unknown>) };
      for (const key of ['latency_ms', 'policy_latency_ms', 'tool_latency_ms', 'total_latency_ms'])
        delete metadata[key];
      if (metadata.summary) metadata.summary = { ...(metadata.summary as object), latencies: '(measured)' };
      return { ...rest, metadata };
    })
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

describe('ALMEventExporter', () => {
  let h: Harness;
  afterEach(() => h.close());

  it('turns finished spans into the same events ALM emits directly', async () => {
    const exported: ALMEvent[] = [];
    const exporter = new ALMEventExporter({
      agentId: 'test-agent',
      agentVersion: '1.0.0',
      events: { sink: (batch) => void exported.push(...batch) },
    });
    h = createHarness({
      alm: { agentVersion: '1.0.0', policy: { deniedTools: ['rm'] } },
      extraProcessors: [new SimpleSpanProcessor({ exporter })],
    });
    const search = h.alm.tool('search', async (q: string) => ({ hits: [q] }));
    const rm = h.alm.tool('rm', () => 0);
    const boom = h.alm.tool('boom', () => {
      throw new TypeError('bad input');
    });
    await h.alm.run({ purpose: 'compare' }, async () => {
      await h.alm.task({ type: 'a', description: 'first' }, () => search('x'));
      await h.alm.task(async () => {
        expect(() => rm()).toThrow();
        expect(() => boom()).toThrow();
      });
      h.alm.handoff({ toAgentId: 'b', reason: 'why', context: { k: 1 } });
    });
    const direct = await h.flushEvents();
    await exporter.forceFlush();
    validated(exported);
    // Content is on spans only with captureToolContent; without it the exporter cannot know it.
    const strip = (events: ALMEvent[]) =>
      comparable(events).map((e) => {
        const m = (e as { metadata: Record<string, unknown> }).metadata;
        if ('args' in m) m.args = '(content)';
        delete m.result;
        return e;
      });
    expect(strip(exported)).toEqual(strip(direct));
    await exporter.shutdown();
  });

  it('carries tool content through spans when captureToolContent is on', async () => {
    const exported: ALMEvent[] = [];
    const exporter = new ALMEventExporter({ agentId: 'test-agent', events: { sink: (b) => void exported.push(...b) } });
    h = createHarness({ alm: { captureToolContent: true }, extraProcessors: [new SimpleSpanProcessor({ exporter })] });
    const search = h.alm.tool('search', (query: { q: string; token: string }) => ({ hits: [query.q] }));
    h.alm.run(() => search({ q: 'otel', token: 't' }));
    await exporter.forceFlush();
    const direct = await h.flushEvents();
    expect(comparable(validated(exported))).toEqual(comparable(direct));
    await exporter.shutdown();
  });

  it('ignores spans that are not ALM operations', async () => {
    const exported: ALMEvent[] = [];
    const exporter = new ALMEventExporter({ agentId: 'x', events: { sink: (b) => void exported.push(...b) } });
    h = createHarness({ extraProcessors: [new SimpleSpanProcessor({ exporter })] });
    h.tracer.startActiveSpan('GET /health', (s) => s.end());
    await exporter.forceFlush();
    expect(exported).toEqual([]);
    await exporter.shutdown();
  });
  it('turns alm.llm spans into llm.* events only with events.llmEvents, as ALM does', async () => {
    const plain: ALMEvent[] = [];
    const withLlm: ALMEvent[] = [];
    const exporters = [
      new ALMEventExporter({ agentId: 'a', events: { sink: (b) => void plain.push(...b) } }),
      new ALMEventExporter({ agentId: 'a', events: { sink: (b) => void withLlm.push(...b), llmEvents: true } }),
    ];
    h = createHarness({
      extraProcessors: exporters.map((exporter) => new SimpleSpanProcessor({ exporter })),
    });
    await h.alm.run(() =>
      h.alm.llm({ provider: 'openai', model: 'gpt-4o-mini' }, async () => ({
        usage: { prompt_tokens: 3, completion_tokens: 2 },
      })),
    );
    await h.provider.forceFlush();
    for (const exporter of exporters) await exporter.forceFlush();
    expect(validated(plain).map((e) => e.event_type)).toEqual(['run.start', 'run.end']);
    expect(
      validated(withLlm)
        .map((e) => e.event_type)
        .sort(),
    ).toEqual(['llm.request', 'llm.response', 'run.end', 'run.start']);
    const response = withLlm.find((e) => e.event_type === 'llm.response')!;
    expect(response.metadata).toMatchObject({
      model: 'gpt-4o-mini',
      input_tokens: 3,
      output_tokens: 2,
      status: 'success',
    });
  });
});
