/**
 * alm.llm: GenAI inference spans, usage read from real client result shapes, and per-run model-call,
 * token and cost budgets (exact under concurrency, inherited by child runs).
 */
import { SpanKind, metrics } from '@opentelemetry/api';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type HistogramMetricData,
  type SumMetricData,
} from '@opentelemetry/sdk-metrics';
import { BudgetExceededError, ToolDeniedError, type BudgetDetails } from '../../src';
import { createHarness, ofType, type Harness } from '../helpers/harness';

const PRICES = { 'gpt-4o-mini': { inputPerMillion: 0.15, outputPerMillion: 0.6 } };

/** What the OpenAI SDK's chat.completions.create returns, trimmed. */
function chatCompletion(promptTokens: number, completionTokens: number) {
  return {
    id: 'chatcmpl-123',
    object: 'chat.completion',
    model: 'gpt-4o-mini-2024-07-18',
    choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    },
  };
}

async function refusal(promise: Promise<unknown>): Promise<BudgetExceededError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(BudgetExceededError);
    return error as BudgetExceededError;
  }
  throw new Error('expected BudgetExceededError');
}

function expectConsistent(details: BudgetDetails): void {
  expect(details.spent).toBeGreaterThanOrEqual(details.limit);
  expect(details.remaining).toBe(0);
  expect(details.remaining).toBe(Math.max(0, details.limit - details.spent));
}

describe('alm.llm', () => {
  let h: Harness;
  afterEach(() => h.close());

  it('records a GenAI inference span under the run, with usage and response details from the result', async () => {
    h = createHarness({ alm: { policy: { prices: PRICES } } });
    const result = await h.alm.run(() =>
      h.alm.llm({ provider: 'openai', model: 'gpt-4o-mini' }, async () => chatCompletion(1000, 200)),
    );
    expect(result.id).toBe('chatcmpl-123');
    const span = h.span('chat gpt-4o-mini');
    expect(span.kind).toBe(SpanKind.CLIENT);
    expect(span.parentSpanContext?.spanId).toBe(h.span('invoke_agent test-agent').spanContext().spanId);
    expect(span.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
      'gen_ai.response.id': 'chatcmpl-123',
      'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.usage.input_tokens': 1000,
      'gen_ai.usage.output_tokens': 200,
      'alm.llm.cost_usd': (1000 * 0.15 + 200 * 0.6) / 1e6,
    });
    const events = await h.flushEvents();
    // The default stream stays the reference's eight types; the summary gains the model figures.
    expect(events.map((e) => e.event_type)).toEqual(['run.start', 'run.end']);
    expect(ofType(events, 'run.end')[0]!.metadata.summary).toMatchObject({
      llm_calls: 1,
      tokens: { input: 1000, output: 200 },
      cost_usd: 0.00027,
    });
  });

  it('reads usage from the OpenAI Responses, Anthropic and AI SDK shapes, and from setUsage', async () => {
    h = createHarness();
    const shapes: [unknown, number, number][] = [
      [{ id: 'resp_1', model: 'gpt-4o', usage: { input_tokens: 11, output_tokens: 12 } }, 11, 12],
      [
        { id: 'msg_1', model: 'claude', stop_reason: 'end_turn', usage: { input_tokens: 21, output_tokens: 22 } },
        21,
        22,
      ],
      [{ usage: { inputTokens: 1, outputTokens: 2 }, totalUsage: { inputTokens: 31, outputTokens: 32 } }, 31, 32],
      [{ usage: { inputTokens: 41, outputTokens: 42 }, response: { id: 'r', modelId: 'm' } }, 41, 42],
      [{ usage: { promptTokens: 51, completionTokens: 52 } }, 51, 52],
    ];
    await h.alm.run(async () => {
      for (const [shape] of shapes) await h.alm.llm({ provider: 'p', model: 'm' }, async () => shape);
      h.alm.llm({ provider: 'p', model: 'explicit' }, (call) => {
        call.setUsage({ inputTokens: 61, outputTokens: 62 });
        return { usage: { prompt_tokens: 1, completion_tokens: 1 } }; // explicit usage wins
      });
    });
    const spans = h.spans().filter((s) => s.name.startsWith('chat '));
    expect(
      spans.map((s) => [s.attributes['gen_ai.usage.input_tokens'], s.attributes['gen_ai.usage.output_tokens']]),
    ).toEqual([...shapes.map(([, i, o]) => [i, o]), [61, 62]]);
    expect(spans[1]!.attributes['gen_ai.response.finish_reasons']).toEqual(['end_turn']);
    const summary = ofType(await h.flushEvents(), 'run.end')[0]!.metadata.summary;
    expect(summary.llm_calls).toBe(6);
    expect(summary.tokens).toEqual({ input: 216, output: 222 });
    expect(summary.cost_usd).toBeUndefined(); // no prices configured
  });

  it('returns what fn returns, rethrows its error unchanged, and marks the span', async () => {
    h = createHarness();
    const boom = { status: 503, message: 'overloaded' };
    await h.alm.run(async () => {
      expect(h.alm.llm({ provider: 'p', model: 'm' }, () => 42)).toBe(42);
      await expect(
        h.alm.llm({ provider: 'p', model: 'm', operation: 'text_completion' }, async () => {
          throw boom;
        }),
      ).rejects.toBe(boom);
    });
    const failed = h.span('text_completion m');
    expect(failed.status.code).toBe(2);
    expect(failed.attributes['error.type']).toBe('Object');
    expect(failed.attributes['alm.llm.status']).toBe('error');
  });

  it('stops a run at the first model call after its cost reaches maxCostPerRun', async () => {
    h = createHarness({ alm: { policy: { maxCostPerRun: 0.001, prices: PRICES } } });
    let completed = 0;
    const error = await refusal(
      h.alm.run(async () => {
        for (;;) {
          await h.alm.llm({ provider: 'openai', model: 'gpt-4o-mini' }, async () => chatCompletion(2000, 500));
          completed++;
        }
      }),
    );
    // Each call costs $0.0006: the second crosses $0.001 and completes; the third is refused.
    expect(completed).toBe(2);
    expect(error.details).toMatchObject({ budget: 'cost', limit: 0.001, attempted: 0 });
    expect(error.details.spent).toBeCloseTo(0.0012, 10);
    expectConsistent(error.details);
    expect(error.message).toBe('Budget exceeded: $0.0012/$0.001 cost');
    const refused = h.spans().filter((s) => s.attributes['alm.llm.status'] === 'denied');
    expect(refused).toHaveLength(1);
    expect(refused[0]!.attributes).toMatchObject({ 'alm.budget': 'cost', 'error.type': 'BudgetExceededError' });
    const summary = ofType(await h.flushEvents(), 'run.end')[0]!.metadata.summary;
    expect(summary).toMatchObject({ llm_calls: 2, tokens: { input: 4000, output: 1000 }, cost_usd: 0.0012 });
  });

  it('stops at the token budget and the model-call budget, whose slots are exact under parallel calls', async () => {
    h = createHarness({ alm: { policy: { maxTokensPerRun: 250 } } });
    const tokens = await refusal(
      h.alm.run(async () => {
        for (;;) await h.alm.llm({ provider: 'p', model: 'm' }, async () => chatCompletion(100, 20));
      }),
    );
    expect(tokens.details).toEqual({ budget: 'tokens', limit: 250, spent: 360, attempted: 0, remaining: 0 });
    await h.close();

    h = createHarness({ alm: { policy: { maxLlmCallsPerRun: 3 } } });
    let started = 0;
    const outcomes = await h.alm.run(() =>
      Promise.allSettled(
        Array.from({ length: 10 }, () =>
          h.alm.llm({ provider: 'p', model: 'm' }, async () => {
            started++;
            await new Promise((resolve) => setTimeout(resolve, 5));
            return chatCompletion(1, 1);
          }),
        ),
      ),
    );
    expect(started).toBe(3);
    const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(refused).toHaveLength(7);
    for (const r of refused) {
      expect((r.reason as BudgetExceededError).details).toEqual({
        budget: 'llm_calls',
        limit: 3,
        spent: 3,
        attempted: 1,
        remaining: 0,
      });
    }
  });

  it('gives concurrent runs their own budgets, and holds child runs to their parent', async () => {
    h = createHarness({ alm: { policy: { maxTokensPerRun: 100 } } });
    const call = () => h.alm.llm({ provider: 'p', model: 'm' }, async () => chatCompletion(60, 0));
    // Two concurrent runs each get two calls (60, then 120 >= 100 refuses the third).
    const counts = await Promise.all(
      [0, 1].map(() =>
        h.alm.run(async () => {
          let n = 0;
          try {
            for (;;) {
              await call();
              n++;
            }
          } catch (error) {
            expect(error).toBeInstanceOf(BudgetExceededError);
          }
          return n;
        }),
      ),
    );
    expect(counts).toEqual([2, 2]);
    // A child run starts with room of its own, but its parent has none left after the child's first call.
    const nested = await refusal(
      h.alm.run(async () => {
        await call();
        await h.alm.run(async () => {
          await call(); // child 60, parent 120
          await call(); // the parent's budget refuses this
        });
      }),
    );
    expect(nested.details).toMatchObject({ budget: 'tokens', limit: 100, spent: 120 });
  });

  it('refuses tool calls too once the run has spent its token or cost budget, with the same details', async () => {
    h = createHarness({ alm: { policy: { maxCostPerRun: 0.0005, prices: PRICES } } });
    const search = h.alm.tool('search', () => 'found');
    let denied: unknown;
    await h.alm.run(async () => {
      expect(search()).toBe('found');
      await h.alm.llm({ provider: 'openai', model: 'gpt-4o-mini' }, async () => chatCompletion(2000, 500));
      try {
        search();
      } catch (error) {
        denied = error;
      }
    });
    expect(denied).toBeInstanceOf(ToolDeniedError);
    expect((denied as ToolDeniedError).reason).toBe('Budget exceeded: $0.0006/$0.0005 cost');
    expect((denied as ToolDeniedError).details).toMatchObject({ budget: 'cost', limit: 0.0005, remaining: 0 });
    const decisions = ofType(await h.flushEvents(), 'policy.decision').map((e) => e.metadata.decision);
    expect(decisions).toEqual(['allow', 'deny']);
  });

  it('counts usage set after the call returned (a stream) toward the budget', async () => {
    h = createHarness({ alm: { policy: { maxTokensPerRun: 100 } } });
    const error = await refusal(
      h.alm.run(async () => {
        let late: ((n: number) => void) | undefined;
        await h.alm.llm({ provider: 'p', model: 'm' }, (call) => {
          late = (n) => call.setUsage({ inputTokens: n, outputTokens: 0 });
          return 'stream handle';
        });
        late!(150); // the stream finished: its usage arrives now
        await h.alm.llm({ provider: 'p', model: 'm' }, () => 'not reached');
      }),
    );
    expect(error.details).toMatchObject({ budget: 'tokens', spent: 150 });
  });

  it('refuses a model without a price when a cost budget needs one, and a cost budget without prices', async () => {
    h = createHarness({ alm: { policy: { maxCostPerRun: 1, prices: PRICES } } });
    let ran = false;
    expect(() =>
      h.alm.run(() =>
        h.alm.llm({ provider: 'p', model: 'unpriced' }, () => {
          ran = true;
        }),
      ),
    ).toThrow(BudgetExceededError);
    expect(ran).toBe(false);
    expect(() => createHarness({ alm: { policy: { maxCostPerRun: 1 } } })).toThrow(
      /policy\.prices: required with maxCostPerRun/,
    );
  });

  it('emits llm.request / llm.response only with events.llmEvents', async () => {
    h = createHarness({ alm: { policy: { maxLlmCallsPerRun: 1, prices: PRICES }, events: { llmEvents: true } } });
    await refusal(
      h.alm.run(async () => {
        await h.alm.llm({ provider: 'openai', model: 'gpt-4o-mini' }, async () => chatCompletion(10, 5));
        await h.alm.llm({ provider: 'openai', model: 'gpt-4o-mini' }, async () => chatCompletion(10, 5));
      }),
    );
    const events = await h.flushEvents();
    expect(events.map((e) => e.event_type)).toEqual([
      'run.start',
      'llm.request',
      'llm.response',
      'llm.request',
      'llm.response',
      'run.end',
    ]);
    const [ok, denied] = ofType(events, 'llm.response');
    expect(ok!.metadata).toMatchObject({
      provider: 'openai',
      model: 'gpt-4o-mini',
      operation: 'chat',
      status: 'success',
      response_model: 'gpt-4o-mini-2024-07-18',
      input_tokens: 10,
      output_tokens: 5,
      cost_usd: (10 * 0.15 + 5 * 0.6) / 1e6,
    });
    expect(denied!.metadata).toMatchObject({
      status: 'denied',
      input_tokens: 0,
      error: { type: 'BudgetExceededError', source: 'policy', message: 'Budget exceeded: 1/1 model calls' },
    });
    expect(ofType(events, 'llm.request')[1]!.metadata.llm_call_id).toBe(denied!.metadata.llm_call_id);
  });

  it('rejects bad arguments with a TypeError naming the field', () => {
    h = createHarness();
    expect(() => h.alm.llm({ provider: '', model: 'm' }, () => 1)).toThrow(
      'alm.llm: provider must be a non-empty string',
    );
    expect(() => h.alm.llm({ model: 'm' } as never, () => 1)).toThrow('alm.llm: provider must be a non-empty string');
    expect(() => h.alm.llm({ provider: 'p', model: 'm' }, 'x' as never)).toThrow('alm.llm: expected a function');
    expect(() => h.alm.llm({ provider: 'p', model: 'm' }, (c) => c.setUsage({ inputTokens: -1 }))).toThrow(
      'call.setUsage: inputTokens must be a number of tokens, 0 or more',
    );
  });
});

describe('GenAI metrics', () => {
  let h: Harness;
  let provider: MeterProvider;
  let exporter: InMemoryMetricExporter;
  let reader: PeriodicExportingMetricReader;
  afterEach(async () => {
    await h.close();
    await provider.shutdown();
    metrics.disable();
  });

  it('reach a MeterProvider registered after the ALM was built', async () => {
    h = createHarness({ alm: { policy: { deniedTools: ['rm'], maxToolCallsPerRun: 1 } } });
    exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
    provider = new MeterProvider({ readers: [reader] });
    metrics.setGlobalMeterProvider(provider);
    const search = h.alm.tool('search', () => 'ok');
    const rm = h.alm.tool('rm', () => 'gone');
    h.alm.run(() => {
      h.alm.llm({ provider: 'openai', model: 'gpt-4o-mini' }, () => chatCompletion(100, 7));
      expect(() => rm()).toThrow(ToolDeniedError); // the deny list (the budget is not reached yet)
      search();
      expect(() => search()).toThrow('Budget exceeded');
    });
    await reader.forceFlush();
    const all = exporter.getMetrics().flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics));
    const byName = (name: string) => all.find((m) => m.descriptor.name === name)!;

    const tokens = byName('gen_ai.client.token.usage') as HistogramMetricData;
    expect(tokens.descriptor.unit).toBe('{token}');
    const sums = Object.fromEntries(tokens.dataPoints.map((p) => [p.attributes['gen_ai.token.type'], p.value.sum]));
    expect(sums).toEqual({ input: 100, output: 7 });
    expect(tokens.dataPoints[0]!.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
    });
    const duration = byName('gen_ai.client.operation.duration') as HistogramMetricData;
    expect(duration.descriptor.unit).toBe('s');
    expect(duration.dataPoints[0]!.value.count).toBe(1);
    const tool = byName('gen_ai.execute_tool.duration') as HistogramMetricData;
    expect(tool.dataPoints.map((p) => [p.attributes['gen_ai.tool.name'], p.value.count])).toEqual([['search', 1]]);
    const agent = byName('gen_ai.invoke_agent.duration') as HistogramMetricData;
    expect(agent.dataPoints[0]!.attributes['gen_ai.agent.name']).toBe('test-agent');
    const decisions = byName('alm.policy.decisions') as SumMetricData;
    const counted = decisions.dataPoints.map((p) => [
      p.attributes['gen_ai.tool.name'],
      p.attributes['alm.policy.decision'],
      p.value,
    ]);
    expect(counted).toEqual(
      expect.arrayContaining([
        ['search', 'allow', 1],
        ['rm', 'deny', 1],
        ['search', 'deny', 1],
      ]),
    );
    const exceeded = byName('alm.budget.exceeded') as SumMetricData;
    expect(exceeded.dataPoints.map((p) => [p.attributes['alm.budget'], p.value])).toEqual([['tool_calls', 1]]);
  });

  it('follow the registration: none, then a provider, then another one in its place', async () => {
    h = createHarness();
    const search = h.alm.tool('search', () => 'ok');
    const toolCalls = async (r: PeriodicExportingMetricReader, e: InMemoryMetricExporter) => {
      await r.forceFlush();
      const all = e.getMetrics().flatMap((m) => m.scopeMetrics.flatMap((s) => s.metrics));
      const tool = all.find((m) => m.descriptor.name === 'gen_ai.execute_tool.duration') as HistogramMetricData;
      return tool?.dataPoints.reduce((n, p) => n + p.value.count, 0) ?? 0;
    };
    h.alm.run(() => search()); // nothing registered: nowhere to go
    exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
    provider = new MeterProvider({ readers: [reader] });
    metrics.setGlobalMeterProvider(provider);
    h.alm.run(() => (search(), search()));
    expect(await toolCalls(reader, exporter)).toBe(2);

    metrics.disable();
    const secondExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const secondReader = new PeriodicExportingMetricReader({
      exporter: secondExporter,
      exportIntervalMillis: 3_600_000,
    });
    const second = new MeterProvider({ readers: [secondReader] });
    metrics.setGlobalMeterProvider(second);
    h.alm.run(() => search());
    expect(await toolCalls(secondReader, secondExporter)).toBe(1);
    expect(await toolCalls(reader, exporter)).toBe(2);
    await second.shutdown();
  });
});
