/**
 * Where this round's pieces meet: retries inside a framework's tool span, timeouts after shutdown,
 * hostile values through retries, model usage that arrives late or from hostile results, monitor mode
 * with model budgets, and other instrumentations' tool spans under the instance's bounds and capture
 * switches. Each of these failed before it was fixed.
 */
import type { AsyncLocalStorage } from 'node:async_hooks';
import { ALM, BudgetExceededError } from '../../src';
import { MAX_STRING_LENGTH, TRUNCATED_SUFFIX, WITHHELD_INPUTS, WITHHELD_OUTPUTS } from '../../src/events/capture';
import { createHarness, ofType, type Harness } from '../helpers/harness';

function econnreset(): Error {
  return Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
}

describe('seams', () => {
  let h: Harness;
  afterEach(() => h.close());

  it('every attempt of a retried tool inside a framework tool span carries the framework call id', async () => {
    h = createHarness();
    let n = 0;
    const search = h.alm.tool(
      'search',
      async (_q: string) => {
        if (++n < 3) throw econnreset();
        return 'ok';
      },
      { retry: { maxAttempts: 3, initialDelayMs: 1 } },
    );
    await h.alm.run(() =>
      h.tracer.startActiveSpan(
        'execute_tool search',
        {
          attributes: {
            'gen_ai.operation.name': 'execute_tool',
            'gen_ai.tool.name': 'search',
            'gen_ai.tool.call.id': 'call-1',
          },
        },
        async (span) => {
          try {
            await search('x');
          } finally {
            span.end();
          }
        },
      ),
    );
    const requests = ofType(await h.flushEvents(), 'tool.request');
    expect(requests.map((e) => [e.metadata.tool_call_id, e.metadata.attempt])).toEqual([
      ['call-1', 1],
      ['call-1', 2],
      ['call-1', 3],
    ]);
  });

  it('a tool with retry rethrows its own error unchanged, even a Proxy whose traps throw', async () => {
    h = createHarness();
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error('trap');
        },
      },
    );
    const tool = h.alm.tool(
      'hostile',
      async () => {
        throw hostile;
      },
      { retry: { maxAttempts: 2, initialDelayMs: 1 } },
    );
    let thrown: unknown;
    await h.alm.run(async () => {
      try {
        await tool();
      } catch (error) {
        thrown = error;
      }
    });
    expect(thrown).toBe(hostile);
  });

  it('a tool with timeoutMs called after shutdown leaves no AsyncLocalStorage enabled', async () => {
    h = createHarness();
    const alm = new ALM({ agentId: 'a', events: { sink: 'none' } });
    const timed = alm.tool('timed', async () => 'done', { timeoutMs: 1000 });
    await alm.shutdown();
    expect(await timed()).toBe('done');
    const storage = (alm as unknown as { rt: { storage: AsyncLocalStorage<unknown> & { enabled?: boolean } } }).rt
      .storage;
    if (storage.enabled !== undefined) expect(storage.enabled).toBe(false);
  });

  it("counts a streamed model call's usage when its client's span ends after alm.llm returned", async () => {
    h = createHarness({ alm: { policy: { maxTokensPerRun: 100 } } });
    let refused: unknown;
    await h.alm.run(async () => {
      let finishStream!: () => void;
      await h.alm.llm({ provider: 'openai', model: 'gpt-4o' }, () => {
        // The instrumented client's span starts inside the call and ends when the stream is read, later.
        const span = h.tracer.startSpan('chat gpt-4o', { attributes: { 'gen_ai.operation.name': 'chat' } });
        finishStream = () => {
          span.setAttributes({ 'gen_ai.usage.input_tokens': 4000, 'gen_ai.usage.output_tokens': 1000 });
          span.end();
        };
        return 'a stream';
      });
      finishStream();
      try {
        await h.alm.llm({ provider: 'openai', model: 'gpt-4o' }, async () => 'never');
      } catch (error) {
        refused = error;
      }
    });
    expect(refused).toBeInstanceOf(BudgetExceededError);
    expect((refused as BudgetExceededError).details).toMatchObject({ budget: 'tokens', spent: 5000 });
  });

  it('a model result with a hostile choices array still ends the span and counts its usage', async () => {
    h = createHarness({ alm: { policy: { maxTokensPerRun: 100 }, events: { llmEvents: true } } });
    const choices = new Proxy([{}], {
      get(target, key) {
        if (key === '0') throw new Error('trap');
        return Reflect.get(target, key);
      },
    });
    let refused: unknown;
    await h.alm.run(async () => {
      await h.alm.llm({ provider: 'p', model: 'm' }, async () => ({
        choices,
        usage: { prompt_tokens: 900, completion_tokens: 100 },
      }));
      try {
        await h.alm.llm({ provider: 'p', model: 'm' }, async () => 'never');
      } catch (error) {
        refused = error;
      }
    });
    expect(refused).toBeInstanceOf(BudgetExceededError);
    expect(h.spans().filter((s) => s.name === 'chat m')).toHaveLength(2);
    const types = (await h.flushEvents()).map((e) => e.event_type);
    expect(types.filter((t) => t === 'llm.response')).toHaveLength(2);
  });

  it('monitor mode lets a model call over budget run, and flags its span', async () => {
    h = createHarness({ alm: { policy: { mode: 'monitor', maxLlmCallsPerRun: 1 } } });
    const results = await h.alm.run(async () => [
      await h.alm.llm({ provider: 'p', model: 'm' }, async () => 'first'),
      await h.alm.llm({ provider: 'p', model: 'm' }, async () => 'second'),
    ]);
    expect(results).toEqual(['first', 'second']);
    const spans = h.spans().filter((s) => s.name === 'chat m');
    expect(spans[0]!.attributes['alm.policy.violation']).toBeUndefined();
    expect(spans[1]!.attributes).toMatchObject({ 'alm.policy.violation': true, 'alm.budget': 'llm_calls' });
  });

  it("bounds other instrumentations' tool names and call ids, and applies the capture switches to their content", async () => {
    h = createHarness({ alm: { capture: { inputs: false, outputs: false } } });
    const huge = 't'.repeat(200_000);
    h.alm.run(() =>
      h.tracer.startActiveSpan(
        'tool',
        {
          attributes: {
            'openinference.span.kind': 'TOOL',
            'tool.name': huge,
            'tool_call.id': huge,
            'input.value': '{"note":"secret medical record"}',
            'output.value': '"patient has X"',
          },
        },
        (span) => span.end(),
      ),
    );
    const events = await h.flushEvents();
    const tool = events.filter((e) => 'tool_name' in e.metadata);
    expect(tool.map((e) => e.event_type)).toEqual(['tool.request', 'policy.decision', 'tool.response']);
    const bounded = 't'.repeat(MAX_STRING_LENGTH) + TRUNCATED_SUFFIX;
    for (const e of tool) {
      expect(e.metadata).toMatchObject({ tool_name: bounded, tool_call_id: bounded });
      expect(JSON.stringify(e)).not.toContain('secret medical record');
      expect(JSON.stringify(e)).not.toContain('patient has X');
    }
    expect(ofType(events, 'tool.request')[0]!.metadata.args).toEqual({ args: [WITHHELD_INPUTS] });
    expect(ofType(events, 'tool.response')[0]!.metadata.result).toBe(WITHHELD_OUTPUTS);
  });
});
