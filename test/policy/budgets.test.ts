/**
 * Budgets that never fail open (issue #15 items 10-12, #16 items 5-6): spend is never counted as zero
 * or taken back, hostile numbers only make a budget stricter, prices match by glob and by response
 * model, an unpriced model is refused under a cost budget, and spend is readable and visible.
 */
import { ALM, ALMConfigError, BudgetExceededError, ToolDeniedError } from '../../src';
import { RunForest, drawRun } from '../../src/cli/tree';
import { createHarness, ofType, type Harness } from '../helpers/harness';

const PRICES = { 'gpt-4o-mini': { inputPerMillion: 0.15, outputPerMillion: 0.6 } };

function endedSpan(h: Harness, name: string, attributes: Record<string, string | number>, inner?: () => void): void {
  h.tracer.startActiveSpan(name, { attributes }, (span) => {
    inner?.();
    span.end();
  });
}

/**
 * In a run, up to 10 times: a tool call (refused once a budget is spent), then `step` (model spans of
 * another instrumentation). Returns how many tool calls the budget let run.
 */
async function toolCallsBetween(h: Harness, step: () => void): Promise<number> {
  const tool = h.alm.tool('next_step', () => 'ok');
  return h.alm.run(() => {
    let ran = 0;
    for (let i = 0; i < 10; i++) {
      try {
        tool();
      } catch (error) {
        if (error instanceof ToolDeniedError) break;
        throw error;
      }
      ran++;
      step();
    }
    return ran;
  });
}

describe('spend is never counted as zero or taken back', () => {
  let h: Harness;
  afterEach(() => h.close());

  it('a framework model span without token counts keeps the tokens of the client span inside it', async () => {
    h = createHarness({ alm: { policy: { maxTokensPerRun: 1000 } } });
    const ran = await toolCallsBetween(h, () =>
      // The AI SDK's provider-call span reports no usage; the instrumented client inside it does.
      endedSpan(h, 'ai.generateText.doGenerate', { 'ai.operationId': 'ai.generateText.doGenerate' }, () =>
        endedSpan(h, 'chat gpt-4o-mini', {
          'gen_ai.operation.name': 'chat',
          'gen_ai.request.model': 'gpt-4o-mini',
          'gen_ai.usage.input_tokens': 800,
          'gen_ai.usage.output_tokens': 200,
        }),
      ),
    );
    expect(ran).toBe(1);
    const summary = ofType(await h.flushEvents(), 'run.end')[0]!.metadata.summary;
    expect(summary).toMatchObject({ llm_calls: 1, tokens: { input: 800, output: 200 } });
  });

  it("another instrumentation's model with no price counts as over a cost budget, not as $0", async () => {
    h = createHarness({ alm: { policy: { maxCostPerRun: 0.05, prices: PRICES } } });
    const ran = await toolCallsBetween(h, () =>
      endedSpan(h, 'chat claude-x', {
        'gen_ai.operation.name': 'chat',
        'gen_ai.request.model': 'claude-x',
        'gen_ai.usage.input_tokens': 1000,
        'gen_ai.usage.output_tokens': 1000,
      }),
    );
    expect(ran).toBe(1);
    // Flagged on its span, and visible in the event stream: the run.end summary says which model.
    expect(h.span('chat claude-x').attributes).toMatchObject({ 'alm.policy.violation': true, 'alm.budget': 'cost' });
    const events = await h.flushEvents();
    expect(ofType(events, 'run.end')[0]!.metadata.summary.budget_exceeded).toEqual({
      budget: 'cost',
      limit: 0.05,
      spent: 0,
      model: 'claude-x',
      flagged_llm_calls: 1,
    });
    expect(ofType(events, 'policy.decision').map((e) => e.metadata.reason)).toEqual([
      'allowed',
      "Budget exceeded: model 'claude-x' has no price in policy.prices, so maxCostPerRun ($0.05) cannot count its calls",
    ]);
  });

  it('counts usage carried on a thrown error (as the AI SDK NoObjectGeneratedError carries it)', async () => {
    h = createHarness({ alm: { policy: { maxTokensPerRun: 1000 } } });
    // The AI SDK's NoObjectGeneratedError shape: the model answered (and was paid for), parsing failed.
    const noObject = () =>
      Object.assign(new Error('No object generated: could not parse the response.'), {
        name: 'AI_NoObjectGeneratedError',
        usage: { inputTokens: 700, outputTokens: 400 },
      });
    let calls = 0;
    const error = await h.alm
      .run(async () => {
        for (let i = 0; i < 10; i++) {
          await h.alm
            .llm({ provider: 'openai', model: 'gpt-4o-mini' }, async () => {
              calls++;
              throw noObject();
            })
            .catch((e: unknown) => {
              if (e instanceof BudgetExceededError) throw e;
            });
        }
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BudgetExceededError);
    expect(calls).toBe(1);
    const failed = h.spans().filter((s) => s.attributes['alm.llm.status'] === 'error');
    expect(failed.map((s) => s.attributes['gen_ai.usage.input_tokens'])).toEqual([700]);
  });

  it('a later setUsage with lower numbers never subtracts, and a field left out keeps its value', async () => {
    h = createHarness({ alm: { policy: { maxTokensPerRun: 1000 } } });
    let ran = 0;
    await h.alm.run(async () => {
      let late!: (usage: { inputTokens?: number; outputTokens?: number }) => void;
      await h.alm.llm({ provider: 'p', model: 'm' }, (call) => {
        call.setUsage({ inputTokens: 500, outputTokens: 300 });
        call.setUsage({ inputTokens: 100 }); // lower, and outputTokens left out
        late = (usage) => call.setUsage(usage);
        return 'text';
      });
      late({ outputTokens: 550 }); // a stream's final count, input left out: 1050 in all
      late({ inputTokens: 0, outputTokens: 0 });
      for (let i = 0; i < 5; i++) {
        await h.alm.llm({ provider: 'p', model: 'm' }, async () => ran++).catch(() => undefined);
      }
    });
    expect(ran).toBe(0);
    const summary = ofType(await h.flushEvents(), 'run.end')[0]!.metadata.summary;
    expect(summary.tokens).toEqual({ input: 500, output: 550 });
  });
});

describe('hostile numbers only ever make a budget stricter', () => {
  let open: Harness | undefined;
  afterEach(async () => {
    await open?.close();
    open = undefined;
  });
  const harness = (options: Parameters<typeof createHarness>[0]) => (open = createHarness(options));

  it.each([true, false])('setUsage with NaN, Infinity or 1e308 stops the run (enabled: %s)', async (enabled) => {
    for (const hostile of [NaN, Infinity, 1e308]) {
      const alm = new ALM({ agentId: 'a', enabled, events: { sink: 'none' }, policy: { maxTokensPerRun: 1000 } });
      let ran = 0;
      await alm.run(async () => {
        for (let i = 0; i < 50; i++) {
          try {
            alm.llm({ provider: 'p', model: 'm' }, (call) => {
              ran++;
              call.setUsage({ inputTokens: hostile, outputTokens: 10 });
            });
          } catch (error) {
            if (error instanceof BudgetExceededError) break;
            expect(error).toBeInstanceOf(TypeError); // NaN is rejected, and still counted
          }
        }
      });
      expect(ran).toBe(1);
      await alm.shutdown();
    }
  });

  it('hostile usage in a result (NaN, Infinity, 1e308) counts as the most tokens, never as none', async () => {
    const h = harness({ alm: { policy: { maxTokensPerRun: 1000 } } });
    for (const hostile of [NaN, Infinity, 1e308]) {
      let ran = 0;
      await h.alm.run(async () => {
        for (let i = 0; i < 10; i++) {
          await h.alm
            .llm({ provider: 'p', model: 'm' }, async () => {
              ran++;
              return { usage: { prompt_tokens: hostile, completion_tokens: 1 } };
            })
            .catch(() => undefined);
        }
      });
      expect(ran).toBe(1);
    }
    for (const e of ofType(await h.flushEvents(), 'run.end')) {
      expect(Number.isSafeInteger(e.metadata.summary.tokens!.input)).toBe(true);
    }
  });

  it('cost arithmetic cannot overflow to Infinity then NaN and lift a cost budget', async () => {
    const h = harness({
      alm: { policy: { maxCostPerRun: 1, prices: { big: { inputPerMillion: 1e9, outputPerMillion: 1e9 } } } },
    });
    let ran = 0;
    await h.alm.run(async () => {
      let late!: () => void;
      await h.alm.llm({ provider: 'p', model: 'big' }, (call) => {
        ran++;
        call.setUsage({ inputTokens: 1e308, outputTokens: 1e308 });
        late = () => call.setUsage({ inputTokens: 1e308, outputTokens: 1e308 + 1 });
        return 'huge';
      });
      late(); // one more token: Infinity - Infinity must not become NaN
      for (let i = 0; i < 20; i++) {
        await h.alm
          .llm({ provider: 'p', model: 'big' }, async () => {
            ran++;
            return { usage: { input_tokens: 20_000, output_tokens: 20_000 } }; // $40
          })
          .catch(() => undefined);
      }
    });
    expect(ran).toBe(1);
    const summary = ofType(await h.flushEvents(), 'run.end')[0]!.metadata.summary;
    expect(Number.isFinite(summary.cost_usd)).toBe(true);
    expect(summary.cost_usd).toBeGreaterThan(1);
    expect(summary.budget_exceeded).toMatchObject({ budget: 'cost', limit: 1 });
  });

  it('a background loop started inside a run keeps its run budget after alm.shutdown()', async () => {
    const alm = new ALM({ agentId: 'a', events: { sink: 'none' }, policy: { maxLlmCallsPerRun: 5 } });
    let ran = 0;
    let ranAfterShutdown = 0;
    let shutDown = false;
    let ticks = 0;
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    await alm.run(async () => {
      const timer = setInterval(() => {
        try {
          alm.llm({ provider: 'p', model: 'm' }, () => {
            ran++;
            if (shutDown) ranAfterShutdown++;
          });
        } catch (error) {
          expect(error).toBeInstanceOf(BudgetExceededError);
        }
        if (++ticks === 40) {
          clearInterval(timer);
          stop();
        }
      }, 1);
    });
    while (ticks < 10) await new Promise((resolve) => setTimeout(resolve, 1));
    await alm.shutdown();
    shutDown = true;
    await stopped;
    expect(ran).toBe(5);
    expect(ranAfterShutdown).toBe(0);
  });
});

describe('prices', () => {
  let h: Harness;
  afterEach(() => h.close());

  it('match by * glob and by the response model; the request model comes first', async () => {
    h = createHarness({
      alm: {
        policy: {
          maxCostPerRun: 10,
          prices: {
            'gpt-4o*': { inputPerMillion: 1, outputPerMillion: 2 },
            'gpt-4o-mini': { inputPerMillion: 0.5, outputPerMillion: 0.5 },
            'claude-3-5-sonnet-20241022': { inputPerMillion: 3, outputPerMillion: 15 },
          },
        },
      },
    });
    const usage = (model: string) => ({ model, usage: { input_tokens: 1_000_000, output_tokens: 1_000_000 } });
    let ran = 0;
    await h.alm.run(async () => {
      await h.alm.llm({ provider: 'openai', model: 'gpt-4o-2024-08-06' }, async () => usage('gpt-4o-2024-08-06'));
      await h.alm.llm({ provider: 'openai', model: 'gpt-4o-mini' }, async () => usage('gpt-4o-mini'));
      // Priced only under its response model's id (a request for the dated model's alias).
      await h.alm.llm({ provider: 'anthropic', model: 'claude-3-5-sonnet' }, async () => {
        ran++;
        return usage('claude-3-5-sonnet-20241022');
      });
    });
    expect(ran).toBe(1);
    const costs = h.spans().flatMap((s) => (s.attributes['alm.llm.cost_usd'] === undefined ? [] : [s]));
    expect(costs.map((s) => [s.name, s.attributes['alm.llm.cost_usd']])).toEqual([
      ['chat gpt-4o-2024-08-06', 3], // the glob
      ['chat gpt-4o-mini', 1], // the exact key, before the glob
      ['chat claude-3-5-sonnet', 18], // the response model
    ]);
  });

  it('under a cost budget, a model with no price is refused before the call, naming the model', async () => {
    h = createHarness({ alm: { policy: { maxCostPerRun: 1, prices: PRICES } } });
    let ran = 0;
    const error = await h.alm
      .run(() =>
        h.alm.llm({ provider: 'mock-provider', model: 'mock-model-id' }, async () => {
          ran++;
        }),
      )
      .catch((e: unknown) => e);
    expect(ran).toBe(0);
    expect(error).toBeInstanceOf(BudgetExceededError);
    expect((error as BudgetExceededError).details).toMatchObject({ budget: 'cost', model: 'mock-model-id' });
    expect((error as Error).message).toContain("model 'mock-model-id' has no price in policy.prices");
    const summary = ofType(await h.flushEvents(), 'run.end')[0]!.metadata.summary;
    expect(summary.budget_exceeded).toMatchObject({ budget: 'cost', model: 'mock-model-id', flagged_llm_calls: 0 });
  });

  it('a call admitted for its response model that turns out unpriced counts as over the cost budget', async () => {
    h = createHarness({
      alm: {
        policy: { maxCostPerRun: 1, prices: { 'gpt-4o-2024-08-06': { inputPerMillion: 2.5, outputPerMillion: 10 } } },
      },
    });
    let ran = 0;
    const error = await h.alm
      .run(async () => {
        for (let i = 0; i < 3; i++) {
          // `gpt-4o-2024-08-06` may be its response model, so it runs; the provider answers with another.
          await h.alm.llm({ provider: 'openai', model: 'gpt-4o' }, (call) => {
            ran++;
            call.setUsage({ inputTokens: 10 });
            call.setUsage({ inputTokens: 10, outputTokens: 5 });
            return { model: 'gpt-4o-2024-11-20' };
          });
        }
      })
      .catch((e: unknown) => e);
    expect(ran).toBe(1);
    expect((error as BudgetExceededError).details).toMatchObject({ budget: 'cost', model: 'gpt-4o' });
    const summary = ofType(await h.flushEvents(), 'run.end')[0]!.metadata.summary;
    expect(summary.budget_exceeded).toMatchObject({ budget: 'cost', model: 'gpt-4o', flagged_llm_calls: 1 });
  });

  it("unpricedModels: 'allow' lets it run at $0 and says so once", async () => {
    h = createHarness({ alm: { policy: { maxCostPerRun: 1, prices: PRICES, unpricedModels: 'allow' } } });
    await h.alm.run(async () => {
      for (let i = 0; i < 3; i++) {
        await h.alm.llm({ provider: 'p', model: 'free' }, async () => ({ usage: { input_tokens: 5 } }));
      }
    });
    expect(h.errors.map((e) => e.message)).toEqual([
      "no price for model 'free' in policy.prices: its calls' cost is not counted",
    ]);
  });

  it('refuses bad price and budget options at construction, naming the field', () => {
    const bad = (policy: object) => () => new ALM({ agentId: 'a', events: { sink: 'none' }, policy });
    expect(bad({ maxCostPerRun: 1, prices: PRICES, unpricedModels: 'maybe' })).toThrow(
      /policy\.unpricedModels: must be 'refuse' or 'allow'/,
    );
    expect(bad({ prices: { m: { inputPerMillion: Infinity, outputPerMillion: 1 } } })).toThrow(
      /policy\.prices\.m\.inputPerMillion/,
    );
    expect(bad({ prices: { m: { inputPerMillion: NaN, outputPerMillion: 1 } } })).toThrow(ALMConfigError);
    expect(bad({ maxCostPerRun: Infinity, prices: PRICES })).toThrow(/policy\.maxCostPerRun: must be a number of USD/);
    expect(() =>
      new ALM({ agentId: 'a', events: { sink: 'none' } }).llm(
        { provider: 'p', model: 'm', maxOutputTokens: -1 },
        () => 1,
      ),
    ).toThrow('alm.llm: maxOutputTokens must be a whole number of tokens, 0 or more');
  });
});

describe('spend is readable and visible', () => {
  let h: Harness;
  afterEach(() => h.close());

  it('run.spent() and alm.spent() read the run spend and what its budgets have left, from anywhere inside it', async () => {
    h = createHarness({
      alm: { policy: { maxTokensPerRun: 1000, maxCostPerRun: 0.01, maxToolCallsPerRun: 5, prices: PRICES } },
    });
    expect(h.alm.spent()).toBeUndefined();
    const readFromTool = h.alm.tool('read_budget', () => h.alm.spent());
    const [handle, fromAlm, fromTool] = await h.alm.run(async (run) => {
      await h.alm.llm({ provider: 'openai', model: 'gpt-4o-mini' }, async () => ({
        usage: { prompt_tokens: 300, completion_tokens: 100 },
      }));
      // An AI SDK stopWhen or an OpenAI Agents guardrail is a plain callback inside the run.
      const fromCallback = await new Promise((resolve) => setTimeout(() => resolve(h.alm.spent()), 1));
      return [run.spent(), fromCallback, readFromTool()];
    });
    const cost = (300 * 0.15 + 100 * 0.6) / 1e6;
    expect(handle).toEqual({
      runId: expect.any(String),
      toolCalls: 0,
      llmCalls: 1,
      tokens: 400,
      costUsd: cost,
      reserved: { tokens: 0, costUsd: 0 },
      remaining: { toolCalls: 5, tokens: 600, costUsd: 0.01 - cost },
      exceeded: undefined,
    });
    expect(fromAlm).toEqual(handle);
    expect(fromTool).toMatchObject({ toolCalls: 1, remaining: { toolCalls: 4 } });
  });

  it('a child run sees what its parent has left', async () => {
    h = createHarness({ alm: { policy: { maxTokensPerRun: 1000 } } });
    const remaining = await h.alm.run(async () => {
      await h.alm.llm({ provider: 'p', model: 'm' }, async () => ({ usage: { input_tokens: 900 } }));
      return h.alm.run(async (child) => child.spent().remaining.tokens);
    });
    expect(remaining).toBe(100);
  });

  it('a run that passed a limit says so in run.end, and alm-otel tree shows it; other runs keep the reference summary', async () => {
    h = createHarness({ alm: { policy: { maxTokensPerRun: 100 } } });
    await h.alm.run(() => h.alm.llm({ provider: 'p', model: 'm' }, async () => ({ usage: { input_tokens: 150 } })));
    await h.alm.run(() => h.alm.llm({ provider: 'p', model: 'm' }, async () => ({ usage: { input_tokens: 50 } })));
    await h.alm.run(() => undefined);
    const events = await h.flushEvents();
    const [over, under, none] = ofType(events, 'run.end').map((e) => e.metadata.summary);
    expect(over!.budget_exceeded).toEqual({ budget: 'tokens', limit: 100, spent: 150, flagged_llm_calls: 0 });
    expect(under).not.toHaveProperty('budget_exceeded');
    expect(Object.keys(none!)).toEqual(['tool_calls', 'latencies', 'tasks', 'handoffs']);
    const forest = new RunForest();
    for (const e of events) forest.add(e);
    const drawn = [...forest.runs.values()].map((run) => drawRun(run, { style: (_f, text) => text }).join('\n'));
    expect(drawn[0]).toContain('over budget');
    expect(drawn[0]).toContain('budget exceeded: tokens 150/100');
    expect(drawn[1]).not.toContain('budget exceeded');
  });

  it('monitor mode: model calls past a limit run, flagged, and the summary counts them', async () => {
    h = createHarness({ alm: { policy: { mode: 'monitor', maxLlmCallsPerRun: 1 } } });
    await h.alm.run(async () => {
      for (let i = 0; i < 3; i++) await h.alm.llm({ provider: 'p', model: 'm' }, async () => 'ok');
    });
    const summary = ofType(await h.flushEvents(), 'run.end')[0]!.metadata.summary;
    expect(summary.budget_exceeded).toEqual({ budget: 'llm_calls', limit: 1, spent: 1, flagged_llm_calls: 2 });
  });
});
