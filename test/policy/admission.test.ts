/**
 * Model-call admission under fan-out (issue #15 item 9): token and cost budgets overrun by at most one
 * call's worth, however many calls start at once — parallel alm.llm calls, streams started back to
 * back, sync and async model functions, declared maxOutputTokens or not.
 */
import { BudgetExceededError } from '../../src';
import { createHarness, ofType, type Harness } from '../helpers/harness';

const PRICES = { 'gpt-4o-mini': { inputPerMillion: 0.15, outputPerMillion: 0.6 } };

/** A model answer with usage in the OpenAI Chat Completions shape, after a short wait. */
async function answer(input: number, output: number, ms = 5) {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return { model: 'gpt-4o-mini', usage: { prompt_tokens: input, completion_tokens: output } };
}

async function fanOut(h: Harness, n: number, call: () => Promise<unknown>) {
  const outcomes = await h.alm.run(() => Promise.allSettled(Array.from({ length: n }, call)));
  const summary = ofType(await h.flushEvents(), 'run.end')[0]!.metadata.summary;
  return { outcomes, summary, tokens: summary.tokens!.input + summary.tokens!.output };
}

describe('model-call admission under fan-out', () => {
  let h: Harness;
  afterEach(() => h.close());

  it('50 parallel calls under maxTokensPerRun 1000 overrun it by at most one call', async () => {
    h = createHarness({ alm: { policy: { maxTokensPerRun: 1000 } } });
    let ran = 0;
    const { outcomes, summary, tokens } = await fanOut(h, 50, () =>
      h.alm.llm({ provider: 'openai', model: 'gpt-4o-mini' }, async () => {
        ran++;
        return answer(60, 40);
      }),
    );
    // Each call uses 100 tokens: at most 1000 + 100.
    expect(ran).toBeLessThanOrEqual(11);
    expect(tokens).toBe(ran * 100);
    expect(tokens).toBeGreaterThanOrEqual(1000);
    const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(refused.length).toBe(50 - ran);
    for (const r of refused) expect(r.reason).toBeInstanceOf(BudgetExceededError);
    expect(summary.llm_calls).toBe(ran);
    expect(summary.budget_exceeded).toMatchObject({ budget: 'tokens', limit: 1000, spent: tokens });
  });

  it('50 parallel calls with a declared maxOutputTokens under maxCostPerRun 0.02 overrun it by at most one call', async () => {
    h = createHarness({ alm: { policy: { maxCostPerRun: 0.02, prices: PRICES } } });
    let ran = 0;
    let concurrent = 0;
    let most = 0;
    const { summary } = await fanOut(h, 50, () =>
      h.alm.llm({ provider: 'openai', model: 'gpt-4o-mini', maxOutputTokens: 500 }, async () => {
        ran++;
        most = Math.max(most, ++concurrent);
        try {
          return await answer(1000, 500);
        } finally {
          concurrent--;
        }
      }),
    );
    const perCall = (1000 * 0.15 + 500 * 0.6) / 1e6; // $0.00045: 50 calls would cost $0.0225
    expect(ran).toBe(Math.ceil(0.02 / perCall));
    expect(summary.cost_usd).toBeLessThanOrEqual(0.02 + perCall);
    expect(summary.cost_usd).toBeGreaterThanOrEqual(0.02);
    // Once a call was seen, calls ran side by side, each holding its declared maximum.
    expect(most).toBeGreaterThan(10);
  });

  it('20 streams started back to back (sync functions, usage set at the end) overrun by at most one', async () => {
    h = createHarness({ alm: { policy: { maxTokensPerRun: 1000 } } });
    const finishers: (() => void)[] = [];
    let refused = 0;
    await h.alm.run(async () => {
      for (let i = 0; i < 20; i++) {
        try {
          h.alm.llm({ provider: 'openai', model: 'gpt-4o-mini' }, (call) => {
            finishers.push(() => call.setUsage({ inputTokens: 300, outputTokens: 300 }));
            return 'stream';
          });
        } catch (error) {
          expect(error).toBeInstanceOf(BudgetExceededError);
          refused++;
        }
      }
      for (const finish of finishers) finish();
    });
    expect(finishers.length + refused).toBe(20);
    // Nothing declared and nothing seen: one stream at a time, 600 tokens, within 1000 + one call.
    expect(finishers.length * 600).toBeLessThanOrEqual(1000 + 600);
  });

  it('streams with a declared maxOutputTokens hold it until their usage arrives', async () => {
    h = createHarness({ alm: { policy: { maxTokensPerRun: 1000 } } });
    const finishers: (() => void)[] = [];
    const spent = await h.alm.run(async (run) => {
      // One call first: the run learns what a call's input is.
      await h.alm.llm({ provider: 'p', model: 'm' }, async () => answer(100, 100, 0));
      for (let i = 0; i < 20; i++) {
        try {
          h.alm.llm({ provider: 'p', model: 'm', maxOutputTokens: 100 }, (call) => {
            finishers.push(() => call.setUsage({ inputTokens: 100, outputTokens: 100 }));
            return 'stream';
          });
        } catch {
          // refused: the budget is held by the streams in flight
        }
      }
      expect(run.spent().reserved.tokens).toBe(finishers.length * 200);
      for (const finish of finishers) finish();
      return run.spent();
    });
    // 200 spent, then streams of 200 each while spent + held < 1000: 4 of them (1000 in all).
    expect(finishers).toHaveLength(4);
    expect(spent.tokens).toBe(1000);
    expect(spent.reserved.tokens).toBe(0);
  });
});
