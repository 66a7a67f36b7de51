/**
 * ALMEventExporter reads tool spans through the same conventions table as the policy processor, so
 * every convention converts offline too, and one call shown by several spans is reported once.
 */
import { SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { ALMEventExporter, type ALMEvent } from '../../src';
import { createHarness, ofType, validated, type Harness } from '../helpers/harness';

function exporterInto(events: ALMEvent[]): ALMEventExporter {
  return new ALMEventExporter({ agentId: 'offline', events: { sink: (batch) => void events.push(...batch) } });
}

describe('ALMEventExporter and tool-span conventions', () => {
  let h: Harness;
  afterEach(() => h.close());

  it('converts tool spans of every convention, with their call ids, arguments and results', async () => {
    const exported: ALMEvent[] = [];
    const exporter = exporterInto(exported);
    h = createHarness({ withAlmProcessors: false, extraProcessors: [new SimpleSpanProcessor({ exporter })] });
    const spans: [string, Record<string, string>][] = [
      [
        'genai',
        {
          'gen_ai.operation.name': 'execute_tool',
          'gen_ai.tool.name': 'a',
          'gen_ai.tool.call.id': 'id-a',
          'gen_ai.tool.call.arguments': '{"q":1}',
          'gen_ai.tool.call.result': '"r"',
        },
      ],
      [
        'openinference',
        {
          'openinference.span.kind': 'TOOL',
          'tool.name': 'b',
          'tool_call.id': 'id-b',
          'input.value': '{"q":2}',
          'output.value': 'plain text',
        },
      ],
      [
        'openllmetry',
        {
          'traceloop.span.kind': 'tool',
          'traceloop.entity.name': 'c',
          'traceloop.entity.input': '{"args":["x",2],"kwargs":{}}',
          'traceloop.entity.output': '{"n":3}',
        },
      ],
      [
        'ai sdk',
        {
          'operation.name': 'ai.toolCall fn',
          'ai.operationId': 'ai.toolCall',
          'ai.toolCall.name': 'd',
          'ai.toolCall.id': 'id-d',
          'ai.toolCall.args': '{"q":4}',
          'ai.toolCall.result': '{"password":"p"}',
        },
      ],
      [
        'not a tool',
        { 'openinference.span.kind': 'LLM', 'traceloop.span.kind': 'task', 'ai.operationId': 'ai.generateText' },
      ],
    ];
    for (const [name, attributes] of spans) h.tracer.startActiveSpan(name, { attributes }, (s) => s.end());
    await exporter.forceFlush();
    validated(exported);
    const c = h.span('openllmetry').spanContext().spanId;
    expect(
      ofType(exported, 'tool.request').map((e) => [e.metadata.tool_name, e.metadata.tool_call_id, e.metadata.args]),
    ).toEqual([
      ['a', 'id-a', { inputs: { q: 1 } }],
      ['b', 'id-b', { inputs: { q: 2 } }],
      ['c', c, { args: ['x', 2] }],
      ['d', 'id-d', { inputs: { q: 4 } }],
    ]);
    expect(ofType(exported, 'tool.response').map((e) => e.metadata.result)).toEqual([
      'r',
      'plain text',
      { n: 3 },
      { password: '***REDACTED***' },
    ]);
    await exporter.shutdown();
  });

  it('reports one call once: nested spans of the same call, and a framework span around an alm tool', async () => {
    const exported: ALMEvent[] = [];
    const exporter = exporterInto(exported);
    h = createHarness({
      alm: { policy: { deniedTools: ['rm'] } },
      extraProcessors: [new SimpleSpanProcessor({ exporter })],
    });
    const rm = h.alm.tool('rm', () => 'removed');
    const toolCall = (id: string, name: string, body?: () => void) =>
      h.tracer.startActiveSpan(
        'ai.toolCall',
        { attributes: { 'ai.operationId': 'ai.toolCall', 'ai.toolCall.name': name, 'ai.toolCall.id': id } },
        (span) => {
          try {
            body?.();
          } catch {
            // denied
          } finally {
            span.end();
          }
        },
      );
    await h.alm.run(async () => {
      // The same call as an ai.toolCall span and a GenAI span inside it (separate export batches).
      toolCall('call-1', 'search', () =>
        h.tracer.startActiveSpan(
          'execute_tool search',
          {
            attributes: {
              'gen_ai.operation.name': 'execute_tool',
              'gen_ai.tool.name': 'search',
              'gen_ai.tool.call.id': 'call-1',
            },
          },
          (s) => s.end(),
        ),
      );
      // The AI SDK running an alm tool: alm's span reports it, under the AI SDK's id.
      toolCall('call-2', 'rm', () => rm());
    });
    await exporter.forceFlush();
    validated(exported);
    const requests = ofType(exported, 'tool.request');
    expect(requests.map((e) => [e.metadata.tool_name, e.metadata.tool_call_id])).toEqual([
      ['search', 'call-1'],
      ['rm', 'call-2'],
    ]);
    expect(ofType(exported, 'tool.response').map((e) => e.metadata.status)).toEqual(['success', 'denied']);
    await exporter.shutdown();
  });

  it('a call id seen again after its span ended is a new call; beside it, the same call', async () => {
    const exported: ALMEvent[] = [];
    const exporter = exporterInto(exported);
    h = createHarness({ withAlmProcessors: false, extraProcessors: [new SimpleSpanProcessor({ exporter })] });
    const attributes = {
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'search',
      'gen_ai.tool.call.id': 'c1',
    };
    // Explicit times: span start times have millisecond resolution (Date.now()).
    h.tracer.startActiveSpan('first', { attributes, startTime: 1_000 }, (s) => s.end(1_010));
    h.tracer.startActiveSpan('second', { attributes, startTime: 2_000 }, (s) => s.end(2_010));
    h.tracer.startActiveSpan('beside the second', { attributes, startTime: 2_005 }, (s) => s.end(2_020));
    await exporter.forceFlush();
    expect(ofType(exported, 'tool.request').map((e) => e.span_id)).toEqual([
      h.span('first').spanContext().spanId,
      h.span('second').spanContext().spanId,
    ]);
    await exporter.shutdown();
  });

  it('without call ids, a same-named tool span around another in the same batch is one call', async () => {
    const exported: ALMEvent[] = [];
    const exporter = exporterInto(exported);
    h = createHarness({ withAlmProcessors: false });
    const tool = (name: string, body?: () => void) =>
      h.tracer.startActiveSpan(
        name,
        { attributes: { 'traceloop.span.kind': 'tool', 'traceloop.entity.name': name } },
        (span) => {
          body?.();
          span.end();
        },
      );
    tool('fetch', () => h.tracer.startActiveSpan('GET', (s) => (tool('fetch'), s.end())));
    tool('plan', () => tool('fetch'));
    // One batch, as a BatchSpanProcessor hands it over.
    await new Promise<void>((resolve) => exporter.export(h.spans(), () => resolve()));
    await exporter.forceFlush();
    expect(ofType(exported, 'tool.request').map((e) => e.metadata.tool_name)).toEqual(['fetch', 'fetch', 'plan']);
    expect(ofType(exported, 'tool.request')[0]!.span_id).toBe(h.spans()[2]!.spanContext().spanId);
    await exporter.shutdown();
  });
});
