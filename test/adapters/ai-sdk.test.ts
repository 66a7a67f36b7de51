/**
 * The Vercel AI SDK adapter's model and tool approval, structurally: a language model written out here
 * in the provider specification's shapes (v2 for AI SDK 5, v4 for 7), standing in for a provider. The
 * real AI SDK 5, 6 and 7 packages and their mock models are exercised in frameworks-test/ai-sdk-model.test.mjs.
 */
import { SpanStatusCode } from '@opentelemetry/api';
import { ALM, BudgetExceededError } from '../../src';
import { aiSdkUsage } from '../../src/adapters/ai-sdk';
import { createHarness, ofType, type Harness } from '../helpers/harness';

const PRICES = { 'model-a': { inputPerMillion: 400, outputPerMillion: 0 } };

const v4Usage = (input: number, output: number) => ({
  inputTokens: { total: input, noCache: input, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: output, text: output, reasoning: undefined },
});

/** A provider-spec v4 model answering every call with `input` / `output` tokens; counts its calls. */
function model(input = 10, output = 5) {
  const calls = { generate: 0, stream: 0 };
  const parts = () => [
    { type: 'stream-start', warnings: [] },
    { type: 'response-metadata', id: 'resp-1', modelId: 'model-a-2025' },
    { type: 'text-delta', id: 't', delta: 'hi' },
    { type: 'finish', finishReason: { unified: 'stop', raw: 'stop' }, usage: v4Usage(input, output) },
  ];
  return {
    calls,
    specificationVersion: 'v4' as const,
    provider: 'test-provider',
    modelId: 'model-a',
    supportedUrls: { 'image/*': [/^https:/] },
    async doGenerate(_options: { maxOutputTokens?: number }) {
      calls.generate++;
      return {
        content: [{ type: 'text', text: 'hi' }],
        finishReason: { unified: 'stop', raw: 'stop' },
        usage: v4Usage(input, output),
        response: { id: 'resp-1', modelId: 'model-a-2025' },
        warnings: [],
      };
    },
    async doStream(_options: { maxOutputTokens?: number }) {
      calls.stream++;
      return { stream: ReadableStream.from(parts()) };
    },
  };
}

async function drain(stream: ReadableStream<unknown>): Promise<unknown[]> {
  const parts: unknown[] = [];
  for await (const part of stream as unknown as AsyncIterable<unknown>) parts.push(part);
  return parts;
}

describe('aiSdkUsage', () => {
  it('reads v3/v4 nested usage (cached input and reasoning included in the totals)', () => {
    expect(
      aiSdkUsage({
        inputTokens: { total: 10, noCache: 4, cacheRead: 6, cacheWrite: undefined },
        outputTokens: { total: 5, text: 2, reasoning: 3 },
      }),
    ).toEqual({ inputTokens: 10, outputTokens: 5 });
    // No totals: the sum of the parts.
    expect(
      aiSdkUsage({ inputTokens: { noCache: 4, cacheRead: 6, cacheWrite: 1 }, outputTokens: { text: 2, reasoning: 3 } }),
    ).toEqual({ inputTokens: 11, outputTokens: 5 });
  });

  it('reads v2 usage; reasoning reported beside the output (totalTokens above the sum) counts as output', () => {
    expect(aiSdkUsage({ inputTokens: 10, outputTokens: 5, totalTokens: 15, cachedInputTokens: 6 })).toEqual({
      inputTokens: 10,
      outputTokens: 5,
    });
    expect(aiSdkUsage({ inputTokens: 10, outputTokens: 2, totalTokens: 15, reasoningTokens: 3 })).toEqual({
      inputTokens: 10,
      outputTokens: 5,
    });
  });

  it('never throws; a hostile count never loosens a budget (NaN, Infinity count as the most tokens, negatives as none)', () => {
    const hostile = Object.defineProperty({}, 'inputTokens', {
      get() {
        throw new Error('boom');
      },
    });
    expect(aiSdkUsage(hostile)).toBeUndefined();
    expect(aiSdkUsage(null)).toBeUndefined();
    expect(aiSdkUsage({ inputTokens: 'many', outputTokens: -1 })).toBeUndefined();
    const most = Number.MAX_SAFE_INTEGER;
    expect(aiSdkUsage({ inputTokens: -1, outputTokens: Number.NaN })).toEqual({ inputTokens: 0, outputTokens: most });
    expect(aiSdkUsage({ inputTokens: { total: 'many' }, outputTokens: { total: Infinity } })).toEqual({
      inputTokens: 0,
      outputTokens: most,
    });
  });
});

describe('alm.aiSdkModel', () => {
  let h: Harness;
  afterEach(() => h.close());

  it('reads through to the model, and rejects what is not a model object', async () => {
    h = createHarness();
    const m = model();
    const wrapped = h.alm.aiSdkModel(m);
    expect(wrapped.provider).toBe('test-provider');
    expect(wrapped.modelId).toBe('model-a');
    expect(wrapped.specificationVersion).toBe('v4');
    expect(wrapped.supportedUrls).toBe(m.supportedUrls);
    // A provider class with private fields: its getters still run on the model itself.
    class PrivateModel {
      readonly specificationVersion = 'v4';
      #id = 'model-a';
      calls = 0;
      get provider() {
        return 'private-provider';
      }
      get modelId() {
        return this.#id;
      }
      async doGenerate(_options: { maxOutputTokens?: number }) {
        this.calls++;
        return { content: [], finishReason: { unified: 'stop', raw: 'stop' }, usage: v4Usage(1, 1), warnings: [] };
      }
      async doStream(_options: { maxOutputTokens?: number }) {
        return { stream: ReadableStream.from([]) };
      }
    }
    const own = new PrivateModel();
    const ownWrapped = h.alm.aiSdkModel(own);
    expect([ownWrapped.provider, ownWrapped.modelId]).toEqual(['private-provider', 'model-a']);
    await ownWrapped.doGenerate({});
    expect(own.calls).toBe(1);
    expect(() => h.alm.aiSdkModel('openai/gpt-4o' as never)).toThrow(
      'alm.aiSdkModel: expected an AI SDK language model, got string',
    );
    expect(() => h.alm.aiSdkModel({ doGenerate() {} } as never)).toThrow('with doStream()');
  });

  it('counts a generate call once, with usage and response on its `chat {model}` span', async () => {
    h = createHarness({ alm: { policy: { prices: PRICES } } });
    const m = model();
    const wrapped = h.alm.aiSdkModel(m);
    await h.alm.run(() => wrapped.doGenerate({ maxOutputTokens: 100 }));
    const span = h.span('chat model-a');
    expect(span.attributes).toMatchObject({
      'gen_ai.provider.name': 'test-provider',
      'gen_ai.usage.input_tokens': 10,
      'gen_ai.usage.output_tokens': 5,
      'gen_ai.response.model': 'model-a-2025',
      'gen_ai.response.id': 'resp-1',
      'gen_ai.response.finish_reasons': ['stop'],
      'alm.llm.cost_usd': 0.004,
    });
    const summary = ofType(await h.flushEvents(), 'run.end')[0]!.metadata.summary;
    expect(summary).toMatchObject({ llm_calls: 1, tokens: { input: 10, output: 5 }, cost_usd: 0.004 });
  });

  it('refuses a call once the budget is reached: the provider is not called, generate or stream', async () => {
    h = createHarness({ alm: { policy: { prices: PRICES, maxCostPerRun: 0.008 } } });
    const m = model();
    const wrapped = h.alm.aiSdkModel(m);
    await h.alm.run(async () => {
      await wrapped.doGenerate({});
      await drain(((await wrapped.doStream({})) as { stream: ReadableStream }).stream); // reaches $0.008
      await expect(wrapped.doGenerate({})).rejects.toBeInstanceOf(BudgetExceededError);
      await expect(wrapped.doStream({})).rejects.toThrow('Budget exceeded: $0.008/$0.008 cost');
    });
    expect(m.calls).toEqual({ generate: 1, stream: 1 });
    const summary = ofType(await h.flushEvents(), 'run.end')[0]!.metadata.summary;
    expect(summary).toMatchObject({ llm_calls: 2, cost_usd: 0.008 });
    expect(h.spans().filter((s) => s.attributes['alm.llm.status'] === 'denied')).toHaveLength(2);
  });

  it("counts a stream's usage from its finish part, and passes every part through unchanged", async () => {
    h = createHarness({ alm: { policy: { maxTokensPerRun: 15 } } });
    const wrapped = h.alm.aiSdkModel(model());
    await h.alm.run(async () => {
      const { stream } = (await wrapped.doStream({})) as { stream: ReadableStream };
      const parts = await drain(stream);
      expect(parts.map((p) => (p as { type: string }).type)).toEqual([
        'stream-start',
        'response-metadata',
        'text-delta',
        'finish',
      ]);
      await expect(wrapped.doStream({})).rejects.toBeInstanceOf(BudgetExceededError);
    });
    const span = h.spans().find((s) => s.attributes['alm.llm.status'] === 'success')!;
    expect(span.attributes).toMatchObject({
      'gen_ai.usage.input_tokens': 10,
      'gen_ai.usage.output_tokens': 5,
      'gen_ai.response.id': 'resp-1',
    });
  });

  it('ends the call when the stream is cancelled, or fails', async () => {
    h = createHarness();
    const failing = {
      ...model(),
      async doStream(_options: { maxOutputTokens?: number }) {
        return {
          stream: new ReadableStream({
            start(controller) {
              controller.enqueue({ type: 'stream-start', warnings: [] });
              controller.error(new Error('connection reset'));
            },
          }),
        };
      },
    };
    await h.alm.run(async () => {
      const cancelled = (await h.alm.aiSdkModel(model()).doStream({})) as { stream: ReadableStream };
      await cancelled.stream.cancel('user left');
      const broken = (await h.alm.aiSdkModel(failing).doStream({})) as { stream: ReadableStream };
      await expect(drain(broken.stream)).rejects.toThrow('connection reset');
    });
    const spans = h.spans().filter((s) => s.name === 'chat model-a');
    expect(spans).toHaveLength(2);
    expect(spans.map((s) => s.status.code).sort()).toEqual([SpanStatusCode.UNSET, SpanStatusCode.ERROR]);
  });

  it("decorates the AI SDK's model span when one is active, and the span processor does not count it again", async () => {
    h = createHarness();
    const wrapped = h.alm.aiSdkModel(model());
    await h.alm.run(() =>
      h.tracer.startActiveSpan(
        'ai.generateText.doGenerate',
        { attributes: { 'ai.operationId': 'ai.generateText.doGenerate', 'ai.model.id': 'model-a' } },
        async (span) => {
          const result = await wrapped.doGenerate({});
          // What the AI SDK sets on its span when the call returns.
          span.setAttributes({ 'ai.usage.inputTokens': 10, 'ai.usage.outputTokens': 5 });
          span.end();
          return result;
        },
      ),
    );
    expect(h.spans().filter((s) => s.name.startsWith('chat'))).toHaveLength(0);
    const span = h.span('ai.generateText.doGenerate');
    expect(span.attributes['alm.llm.call_id']).toEqual(expect.any(String));
    expect(span.attributes['gen_ai.usage.input_tokens']).toBe(10);
    const summary = ofType(await h.flushEvents(), 'run.end')[0]!.metadata.summary;
    expect(summary).toMatchObject({ llm_calls: 1, tokens: { input: 10, output: 5 } });
  });

  it('applies the budgets with enabled: false too', async () => {
    h = createHarness();
    const alm = new ALM({ agentId: 'test-agent', enabled: false, policy: { maxLlmCallsPerRun: 1 } });
    const m = model();
    const wrapped = alm.aiSdkModel(m);
    await alm.run(async () => {
      await wrapped.doGenerate({});
      await expect(wrapped.doGenerate({})).rejects.toBeInstanceOf(BudgetExceededError);
    });
    expect(m.calls.generate).toBe(1);
    await alm.shutdown();
  });
});

describe('alm.aiSdkToolApproval', () => {
  let h: Harness;
  afterEach(() => h.close());

  const request = (toolName: string, toolCallId = 'call-1') => ({
    toolCall: { toolName, toolCallId, input: { path: '/etc' } },
    messages: [{ role: 'user', content: 'secret' }],
  });

  it("denies with the policy's reason and records the denied call under the AI SDK's id, input only", async () => {
    h = createHarness({ alm: { policy: { deniedTools: ['delete_file'] } } });
    const status = h.alm.run(() => h.alm.aiSdkToolApproval(request('delete_file')));
    expect(status).toEqual({ type: 'denied', reason: "Tool 'delete_file' is in denied_tools list" });
    const events = await h.flushEvents();
    const [req] = ofType(events, 'tool.request');
    expect(req!.metadata).toMatchObject({
      tool_name: 'delete_file',
      tool_call_id: 'call-1',
      args: { inputs: { path: '/etc' } },
    });
    expect(ofType(events, 'tool.response')[0]!.metadata.status).toBe('denied');
    expect(JSON.stringify(events)).not.toContain('secret');
  });

  it("answers not-applicable for an allowed call and holds its slot: a step's calls cannot pass the budget together, and the call that runs under that id is counted once", async () => {
    h = createHarness({ alm: { policy: { maxToolCallsPerRun: 2 } } });
    const ran: string[] = [];
    const search = h.alm.aiSdkTool('search', {
      execute: (input: { path: string }, _options: { toolCallId: string }) => (ran.push(input.path), 'found'),
    });
    await h.alm.run(async () => {
      // One step: the AI SDK asks about all its calls before it runs any. The third is over the budget.
      expect(h.alm.aiSdkToolApproval(request('search', 'call-1'))).toBeUndefined();
      expect(h.alm.aiSdkToolApproval(request('search', 'call-2'))).toBeUndefined();
      expect(h.alm.aiSdkToolApproval(request('search', 'call-3'))).toEqual({
        type: 'denied',
        reason: 'Budget exceeded: 2/2 tool calls',
      });
      // The two allowed calls run on the slots their approval took, each once.
      expect(search.execute({ path: '/a' }, { toolCallId: 'call-1' })).toBe('found');
      expect(search.execute({ path: '/b' }, { toolCallId: 'call-2' })).toBe('found');
      // A call that was not asked about takes a slot of its own: none is left.
      expect(() => search.execute({ path: '/c' }, { toolCallId: 'call-4' })).toThrow('Budget exceeded: 2/2 tool calls');
    });
    expect(ran).toEqual(['/a', '/b']);
    const summary = ofType(await h.flushEvents(), 'run.end')[0]!.metadata.summary;
    expect(summary.tool_calls).toMatchObject({ total: 4, allowed: 2, denied: 2 });
  });

  it('a call allowed but not started by the next turn of the event loop (another approver declined it) gives its slot back', async () => {
    h = createHarness({ alm: { policy: { maxToolCallsPerRun: 1 } } });
    const mine = () => ({ type: 'denied' as const, reason: 'a person said no' });
    await h.alm.run(async () => {
      expect(h.alm.aiSdkToolApproval(request('search', 'call-1')) ?? mine()).toEqual(mine());
      await new Promise((resolve) => setImmediate(resolve));
      // call-1 never ran: the budget's one call is still there.
      expect(h.alm.aiSdkToolApproval(request('search', 'call-2'))).toBeUndefined();
    });
  });

  it('a plain alm.tool run by the AI SDK under an approved id takes no second slot; one its own rule refuses gives the slot back', async () => {
    h = createHarness({ alm: { policy: { maxToolCallsPerRun: 1, deniedTools: ['admin'] } } });
    const search = h.alm.tool('search', (_input: object, _options: { toolCallId: string }) => 'found');
    const admin = h.alm.aiSdkTool('admin', { execute: (_input: object, _options: { toolCallId: string }) => 'done' });
    await h.alm.run(() => {
      expect(h.alm.aiSdkToolApproval(request('search', 'call-1'))).toBeUndefined();
      expect(search({}, { toolCallId: 'call-1' })).toBe('found');
    });
    await h.alm.run(() => {
      // Approved as `search`, run as `admin`, which the deny list refuses: its slot is free again.
      expect(h.alm.aiSdkToolApproval(request('search', 'call-2'))).toBeUndefined();
      expect(() => admin.execute({}, { toolCallId: 'call-2' })).toThrow("Tool 'admin' is in denied_tools list");
      expect(search({}, { toolCallId: 'call-3' })).toBe('found');
    });
  });

  it('a call allowed without a call id, or by a disabled instance, leaves its slot to its execution', async () => {
    h = createHarness({ alm: { policy: { maxToolCallsPerRun: 1 } } });
    const search = h.alm.tool('search', () => 'found');
    await h.alm.run(() => {
      expect(h.alm.aiSdkToolApproval({ toolCall: { toolName: 'search', input: {} } } as never)).toBeUndefined();
      expect(search()).toBe('found'); // the one call the budget allows
    });
    const disabled = new ALM({ agentId: 'test-agent', enabled: false, policy: { maxToolCallsPerRun: 1 } });
    const plain = disabled.aiSdkTool('search', { execute: () => 'found' });
    await disabled.run(() => {
      expect(disabled.aiSdkToolApproval(request('search'))).toBeUndefined();
      expect(plain.execute()).toBe('found');
    });
  });

  it('does not deny in monitor mode, and a request without a tool name is left to the execution', () => {
    h = createHarness({ alm: { policy: { mode: 'monitor', deniedTools: ['delete_file'] } } });
    expect(h.alm.aiSdkToolApproval(request('delete_file'))).toBeUndefined();
    const enforcing = new ALM({ agentId: 'test-agent', enabled: false, policy: { deniedTools: ['delete_file'] } });
    expect(enforcing.aiSdkToolApproval(null as never)).toBeUndefined();
    expect(enforcing.aiSdkToolApproval({ toolCall: { toolName: 42 } } as never)).toBeUndefined();
    // Disabled: still enforced.
    expect(enforcing.aiSdkToolApproval(request('delete_file'))).toEqual({
      type: 'denied',
      reason: "Tool 'delete_file' is in denied_tools list",
    });
  });
});
