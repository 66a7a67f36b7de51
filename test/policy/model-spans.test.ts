/**
 * Model spans of other instrumentations (hand-made here in each convention's attribute names, through a
 * real in-process SDK) count toward the enclosing run's model budgets through the policy SpanProcessor.
 */
import { context, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { BudgetExceededError } from '../../src';
import { createHarness, noOnEndingTracer, ofType, type Harness } from '../helpers/harness';

function endedSpan(h: Harness, name: string, attributes: Record<string, string | number>, inner?: () => void): void {
  h.tracer.startActiveSpan(name, { attributes }, (span) => {
    inner?.();
    span.end();
  });
}

describe('foreign model spans', () => {
  let h: Harness;
  afterEach(() => h.close());

  it('count toward the run token budget, so the next alm.llm call is refused', async () => {
    h = createHarness({ alm: { policy: { maxTokensPerRun: 100 } } });
    let refused: unknown;
    await h.alm.run(async () => {
      endedSpan(h, 'chat gpt-4o', {
        'gen_ai.operation.name': 'chat',
        'gen_ai.request.model': 'gpt-4o',
        'gen_ai.usage.input_tokens': 80,
        'gen_ai.usage.output_tokens': 40,
      });
      try {
        await h.alm.llm({ provider: 'openai', model: 'gpt-4o' }, async () => 'never');
      } catch (error) {
        refused = error;
      }
    });
    expect(refused).toBeInstanceOf(BudgetExceededError);
    expect((refused as BudgetExceededError).details).toEqual({
      budget: 'tokens',
      limit: 100,
      spent: 120,
      attempted: 0,
      remaining: 0,
    });
    const summary = ofType(await h.flushEvents(), 'run.end')[0]!.metadata.summary;
    expect(summary).toMatchObject({ llm_calls: 1, tokens: { input: 80, output: 40 } });
  });

  it('count each model call once: AI SDK provider calls, not their enclosing generateText span', async () => {
    h = createHarness({ alm: { policy: { prices: { 'mock-model': { inputPerMillion: 1, outputPerMillion: 2 } } } } });
    await h.alm.run(() => {
      endedSpan(
        h,
        'ai.generateText',
        { 'ai.operationId': 'ai.generateText', 'ai.usage.inputTokens': 30, 'ai.usage.outputTokens': 7 },
        () => {
          for (const [input, output] of [
            [10, 3],
            [20, 4],
          ]) {
            endedSpan(h, 'ai.generateText.doGenerate', {
              'ai.operationId': 'ai.generateText.doGenerate',
              'ai.model.id': 'mock-model',
              'ai.usage.inputTokens': input!,
              'ai.usage.outputTokens': output!,
            });
          }
        },
      );
      // An OpenInference LLM span inside an OpenLLMetry chat span: one call, counted as the outer span.
      endedSpan(
        h,
        'openai.chat',
        { 'llm.request.type': 'chat', 'gen_ai.usage.prompt_tokens': 5, 'gen_ai.usage.completion_tokens': 1 },
        () =>
          endedSpan(h, 'ChatOpenAI', {
            'openinference.span.kind': 'LLM',
            'llm.token_count.prompt': 5,
            'llm.token_count.completion': 1,
          }),
      );
    });
    const summary = ofType(await h.flushEvents(), 'run.end')[0]!.metadata.summary;
    expect(summary).toMatchObject({ llm_calls: 3, tokens: { input: 35, output: 8 } });
    // Only the AI SDK calls are priced: 30 input, 7 output tokens of mock-model.
    expect(summary.cost_usd).toBeCloseTo((30 * 1 + 7 * 2) / 1e6, 12);
    expect(h.errors.map((e) => e.message)).toEqual([
      "no price for model '(unnamed)' in policy.prices: its calls' cost is not counted",
    ]);
  });

  it('inside alm.llm are the same call: their usage fills a result without one, counted once', async () => {
    h = createHarness();
    await h.alm.run(() =>
      h.alm.llm({ provider: 'openai', model: 'gpt-4o-mini' }, () => {
        // An instrumented client's span, as OpenLLMetry's OpenAI instrumentation would make it.
        endedSpan(h, 'openai.chat', {
          'gen_ai.operation.name': 'chat',
          'gen_ai.usage.input_tokens': 12,
          'gen_ai.usage.output_tokens': 3,
        });
        return 'just text';
      }),
    );
    expect(h.span('chat gpt-4o-mini').attributes).toMatchObject({
      'gen_ai.usage.input_tokens': 12,
      'gen_ai.usage.output_tokens': 3,
    });
    const summary = ofType(await h.flushEvents(), 'run.end')[0]!.metadata.summary;
    expect(summary).toMatchObject({ llm_calls: 1, tokens: { input: 12, output: 3 } });
  });

  it('flags a model span that starts after its run spent a budget (a processor cannot stop it)', async () => {
    h = createHarness({ alm: { policy: { maxLlmCallsPerRun: 1 } } });
    await h.alm.run(() => {
      for (let i = 0; i < 2; i++) {
        endedSpan(h, `chat ${i}`, { 'gen_ai.operation.name': 'chat', 'gen_ai.usage.input_tokens': 1 });
      }
    });
    expect(h.span('chat 0').attributes['alm.policy.violation']).toBeUndefined();
    expect(h.span('chat 1').attributes).toMatchObject({ 'alm.policy.violation': true, 'alm.budget': 'llm_calls' });
  });

  it('flags a model span whose attributes arrive after start (OpenInference starts its spans bare)', async () => {
    h = createHarness({ alm: { policy: { maxLlmCallsPerRun: 1 } } });
    await h.alm.run(() => {
      for (let i = 0; i < 3; i++) {
        const span = h.tracer.startSpan(`llm ${i}`);
        // The third is named a model span only after a child started, just before it ends.
        if (i === 2) h.tracer.startSpan('child', {}, trace.setSpan(context.active(), span)).end();
        span.setAttributes({ 'openinference.span.kind': 'LLM', 'llm.token_count.prompt': 1 });
        span.end();
      }
    });
    expect(h.span('llm 0').attributes['alm.policy.violation']).toBeUndefined();
    for (const name of ['llm 1', 'llm 2']) {
      expect(h.span(name).attributes).toMatchObject({ 'alm.policy.violation': true, 'alm.budget': 'llm_calls' });
    }
    expect(h.span('child').attributes['alm.policy.violation']).toBeUndefined();
  });

  it('flags a late model span on an SDK that calls no onEnding, when its attributes are set', async () => {
    h = createHarness({ withAlmProcessors: false, alm: { policy: { maxTokensPerRun: 10 } } });
    const tracer = noOnEndingTracer(h);
    const flagged: unknown[] = [];
    await h.alm.run(() => {
      for (let i = 0; i < 2; i++) {
        const span = tracer.startSpan(`llm ${i}`);
        span.setAttributes({ 'openinference.span.kind': 'LLM', 'llm.token_count.prompt': 12 });
        flagged.push((span as unknown as ReadableSpan).attributes['alm.policy.violation']);
        span.end();
      }
    });
    expect(flagged).toEqual([undefined, true]);
  });

  it('inside alm.llm, parented elsewhere (OpenInference under OpenAI Agents): the same call, counted once', async () => {
    h = createHarness();
    const agentSpan = h.tracer.startSpan('agent');
    await h.alm.run(() =>
      h.alm.llm({ provider: 'openai', model: 'gpt-4o-mini' }, async () => {
        const span = h.tracer.startSpan('generation', {}, trace.setSpan(context.active(), agentSpan));
        span.setAttributes({ 'openinference.span.kind': 'LLM', 'llm.token_count.prompt': 7 });
        span.end();
        return { usage: { inputTokens: 7, outputTokens: 2 } };
      }),
    );
    agentSpan.end();
    const summary = ofType(await h.flushEvents(), 'run.end')[0]!.metadata.summary;
    expect(summary).toMatchObject({ llm_calls: 1, tokens: { input: 7, output: 2 } });
  });
});

describe("Mastra's model spans (@mastra/otel-bridge)", () => {
  let h: Harness;
  afterEach(() => h.close());

  // As the bridge makes them: spans start bare and get every attribute when they end; the chat span
  // covers the whole generate() and carries the steps' summed tokens, each model call is a model_step.
  const CHAT = {
    'gen_ai.operation.name': 'chat',
    'mastra.span.type': 'model_generation',
    'gen_ai.request.model': 'mock-model-id',
    'gen_ai.usage.input_tokens': 20,
    'gen_ai.usage.output_tokens': 10,
  };
  const STEP = { 'gen_ai.operation.name': 'model_step', 'mastra.span.type': 'model_step' };

  function generate(steps: number, inStep?: () => Promise<unknown>): Promise<void> {
    return h.tracer.startActiveSpan("llm: 'mock-model-id'", async (chat) => {
      for (let i = 0; i < steps; i++) {
        await h.tracer.startActiveSpan(`step: ${i}`, async (step) => {
          await inStep?.();
          step.setAttributes(STEP);
          step.end();
        });
      }
      chat.setAttributes(CHAT);
      chat.end();
    });
  }

  it('each step is a model call; the chat span adds its tokens once', async () => {
    h = createHarness();
    await h.alm.run(() => generate(2));
    const events = await h.flushEvents();
    const summary = ofType(events, 'run.end')[0]!.metadata.summary;
    expect(summary.llm_calls).toBe(2);
    expect(summary.tokens).toEqual({ input: 20, output: 10 });
  });

  it('count nothing around an alm model call, which counts the calls and tokens itself', async () => {
    h = createHarness();
    const call = () =>
      h.alm.llm({ provider: 'mock', model: 'mock-model-id' }, async (c) => {
        c.setUsage({ inputTokens: 10, outputTokens: 5 });
        return 'ok';
      });
    await h.alm.run(() => generate(2, call));
    const events = await h.flushEvents();
    const summary = ofType(events, 'run.end')[0]!.metadata.summary;
    expect(summary.llm_calls).toBe(2);
    expect(summary.tokens).toEqual({ input: 20, output: 10 });
  });
});
