/**
 * The reference SDK's toy agent, with alm-otel: an allowed tool, a slow tool, a denied tool, a failing
 * tool, tasks, a handoff, and a budget stop; then a second run whose model calls a cost budget stops.
 * ALM events go to stdout as JSON lines; the narration goes to stderr, so `npm run example | jq .` shows
 * the events alone. No external service needed: the model is a stand-in function.
 *
 *   npm run example
 */
import { ALM, BudgetExceededError, ToolDeniedError, type ALMOptions } from '../src';

class ConnectionError extends Error {
  override name = 'ConnectionError';
}

export function createToyAlm(overrides: ALMOptions = {}): ALM {
  return new ALM({
    agentId: 'toy-agent-1',
    env: process.env.ALM_ENV ?? 'development',
    agentVersion: '0.0.1-toy',
    policyVersion: '0.0.1-policy',
    policy: {
      allowedTools: ['safe_tool', 'flaky_tool', 'slow_tool'],
      deniedTools: ['dangerous_tool'],
      defaultAllow: false,
      maxToolCallsPerRun: 8,
      maxCostPerRun: 0.001, // USD
      prices: { 'gpt-4o-mini': { inputPerMillion: 0.15, outputPerMillion: 0.6 } },
    },
    events: { sink: 'stdout' },
    ...overrides,
  });
}

const say = (line: string) => console.error(line);

export async function runToyAgent(alm: ALM): Promise<void> {
  const safeTool = alm.tool('safe_tool', ({ message }: { message: string }) => `Safe: ${message}`);
  const slowTool = alm.tool('slow_tool', async ({ ms }: { ms: number }) => {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return `Slept ${ms}ms`;
  });
  const flakyTool = alm.tool('flaky_tool', ({ shouldFail }: { shouldFail: boolean }) => {
    if (shouldFail) throw new ConnectionError('Simulated connection timeout');
    return { ok: true };
  });
  const dangerousTool = alm.tool('dangerous_tool', () => {
    throw new Error('If you see this, policy did not deny the tool!');
  });

  await alm.run({ purpose: 'Toy agent smoke test' }, async (run) => {
    say(`run ${run.runId}${run.traceId ? ` (trace ${run.traceId})` : ''}`);

    await alm.task({ type: 'happy-path', description: 'Happy path tools' }, async () => {
      say(safeTool({ message: 'Hello, World!' }));
      say(await slowTool({ ms: 150 }));
    });

    alm.task({ type: 'policy', description: 'Policy deny test' }, () => {
      try {
        dangerousTool();
      } catch (error) {
        if (!(error instanceof ToolDeniedError)) throw error;
        say(`Expected denial: ${error.message}`);
      }
    });

    alm.task({ type: 'errors', description: 'Error capture test' }, () => {
      try {
        flakyTool({ shouldFail: true });
      } catch (error) {
        say(`Expected failure: ${(error as Error).name}: ${(error as Error).message}`);
      }
    });

    alm.task({ type: 'budget', description: 'Budget stop test' }, () => {
      // Three calls ran so far (the denied one does not count): the budget of 8 stops the sixth call here.
      for (let i = 1; ; i++) {
        try {
          safeTool({ message: `call ${i}` });
        } catch (error) {
          if (!(error instanceof ToolDeniedError)) throw error;
          say(`Budget stop after ${i - 1} more calls: ${error.reason}`);
          break;
        }
      }
    });

    alm.handoff({
      toAgentId: 'next-agent',
      reason: 'Demonstrate handoff event emission',
      context: { note: 'handoff triggered after tests' },
    });
  });
}

/** A stand-in for a model client: what OpenAI's chat.completions.create returns, without the network. */
async function fakeModel(prompt: string) {
  return {
    id: `chatcmpl-${prompt.length}`,
    object: 'chat.completion',
    model: 'gpt-4o-mini-2024-07-18',
    choices: [{ index: 0, message: { role: 'assistant', content: `Thoughts on ${prompt}` }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 1200, completion_tokens: 300, total_tokens: 1500 },
  };
}

/** A run that keeps asking the model until its cost budget stops it ($0.00036 a call, $0.001 a run). */
export async function runModelAgent(alm: ALM): Promise<void> {
  await alm.run({ purpose: 'Model budget test' }, async () => {
    for (let i = 1; ; i++) {
      try {
        const completion = await alm.llm({ provider: 'openai', model: 'gpt-4o-mini' }, () => fakeModel(`step ${i}`));
        say(`model call ${i}: ${completion.usage.total_tokens} tokens`);
      } catch (error) {
        if (!(error instanceof BudgetExceededError)) throw error;
        const { spent, limit } = error.details;
        say(`Cost budget stop after ${i - 1} model calls: $${spent.toFixed(5)} spent of $${limit}`);
        break;
      }
    }
  });
}

async function main(): Promise<void> {
  const alm = createToyAlm();
  await runToyAgent(alm);
  await runModelAgent(alm);
  await alm.shutdown();
  say(`events: ${JSON.stringify(alm.stats())}`);
}

if (require.main === module) void main();
