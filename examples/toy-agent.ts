/**
 * The reference SDK's toy agent, with alm-otel: an allowed tool, a slow tool, a denied tool, a failing
 * tool, tasks, a handoff, and a budget stop. ALM events go to stdout as JSON lines; the narration goes
 * to stderr, so `npm run example | jq .` shows the events alone. No external service needed.
 *
 *   npm run example
 */
import { ALM, ToolDeniedError, type ALMOptions } from '../src';

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

async function main(): Promise<void> {
  const alm = createToyAlm();
  await runToyAgent(alm);
  await alm.shutdown();
  say(`events: ${JSON.stringify(alm.stats())}`);
}

if (require.main === module) void main();
