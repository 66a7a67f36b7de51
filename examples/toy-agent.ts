/**
 * The reference SDK's toy agent, with alm-otel: an allowed tool, a slow tool, a denied tool, a failing
 * tool, tasks, a handoff, and a budget stop; then a second run whose model calls a cost budget stops.
 * No external service needed: the model is a stand-in function.
 *
 * On a terminal, the agent runs under an in-process OpenTelemetry tracer provider and each run is drawn
 * from its ALM events (as `alm-otel tree` draws them), with its trace_id, followed by the spans it made.
 * Piped, ALM events go to stdout as JSON lines and a short narration to stderr, so
 * `npm run --silent example | jq .` shows the events alone.
 *
 *   npm run example
 *
 * Outside this repository: npm install alm-otel @opentelemetry/api @opentelemetry/sdk-trace
 * @opentelemetry/context-async-hooks, then run it with tsx.
 */
import { context, trace, SpanStatusCode } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { ALM, BudgetExceededError, ToolDeniedError, drawRunTree, type ALMEvent, type ALMOptions } from 'alm-otel';

class ConnectionError extends Error {
  override name = 'ConnectionError';
}

const TOY_POLICY = {
  allowedTools: ['safe_tool', 'flaky_tool', 'slow_tool'],
  deniedTools: ['dangerous_tool'],
  defaultAllow: false,
  maxToolCallsPerRun: 8,
  maxCostPerRun: 0.001, // USD
  prices: { 'gpt-4o-mini': { inputPerMillion: 0.15, outputPerMillion: 0.6 } },
};

export function createToyAlm(overrides: ALMOptions = {}): ALM {
  return new ALM({
    agentId: 'toy-agent-1',
    env: process.env.ALM_ENV ?? 'development',
    agentVersion: '0.0.1-toy',
    policyVersion: '0.0.1-policy',
    policy: TOY_POLICY,
    events: { sink: 'stdout' },
    ...overrides,
  });
}

/** The narration: on stderr, and only when stdout is piped (on a terminal the tree tells the story). */
let narrate = true;
const say = (line: string) => {
  if (narrate) console.error(line);
};

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

/** Piped: the events as JSON lines on stdout, as a stdout sink writes them. */
async function asJsonLines(): Promise<void> {
  const alm = createToyAlm();
  await runToyAgent(alm);
  await runModelAgent(alm);
  await alm.shutdown();
  say(`events: ${JSON.stringify(alm.stats())}`);
}

/** A span and its children, one line each: name, and how it ended. */
function spanLines(span: ReadableSpan, children: Map<string, ReadableSpan[]>, indent: string, out: string[]): void {
  const status = span.attributes['alm.tool.status'] ?? span.attributes['alm.llm.status'];
  const mark =
    status === 'denied'
      ? '⊘ denied'
      : span.status.code === SpanStatusCode.ERROR
        ? `✗ ${span.attributes['error.type'] ?? 'error'}`
        : '✓';
  out.push(`${indent}${span.name}  ${mark}`);
  for (const child of children.get(span.spanContext().spanId) ?? []) spanLines(child, children, indent + '  ', out);
}

/** The spans of one trace as an indented tree, consecutive identical lines folded (`×6`). */
function spanTree(spans: ReadableSpan[], traceId: string): string[] {
  const inTrace = spans.filter((s) => s.spanContext().traceId === traceId);
  const ids = new Set(inTrace.map((s) => s.spanContext().spanId));
  const children = new Map<string, ReadableSpan[]>();
  const roots: ReadableSpan[] = [];
  for (const span of [...inTrace].sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1])) {
    const parent = span.parentSpanContext?.spanId;
    if (parent !== undefined && ids.has(parent)) children.set(parent, [...(children.get(parent) ?? []), span]);
    else roots.push(span);
  }
  const lines: string[] = [];
  for (const root of roots) spanLines(root, children, '', lines);
  const folded: string[] = [];
  for (let i = 0; i < lines.length;) {
    let j = i + 1;
    while (j < lines.length && lines[j] === lines[i]) j++;
    folded.push(j - i > 1 ? `${lines[i]}  ×${j - i}` : lines[i]!);
    i = j;
  }
  return folded;
}

/** On a terminal: an in-process tracer provider, then each run as a tree, with its spans. */
async function asPicture(): Promise<void> {
  narrate = false;
  const events: ALMEvent[] = [];
  const alm = createToyAlm({ events: { sink: (batch) => void events.push(...batch) } });
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    spanProcessors: [...alm.spanProcessors, new SimpleSpanProcessor({ exporter })],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);

  await runToyAgent(alm);
  await runModelAgent(alm);
  await alm.shutdown();
  const spans = exporter.getFinishedSpans(); // before the provider's shutdown, which clears them
  await provider.shutdown();

  const color = !process.env.NO_COLOR;
  const p = TOY_POLICY;
  console.log(
    `policy: allow ${p.allowedTools.join(', ')} · deny ${p.deniedTools.join(', ')} · ` +
      `budgets per run: ${p.maxToolCallsPerRun} tool calls, $${p.maxCostPerRun} of model calls\n`,
  );
  const runs = [...new Set(events.map((e) => e.run_id))];
  for (const runId of runs) {
    const ofRun = events.filter((e) => e.run_id === runId);
    console.log(drawRunTree(ofRun, { color }));
    const traceId = ofRun.find((e) => e.trace_id)?.trace_id;
    if (traceId) console.log(['spans', ...spanTree(spans, traceId).map((l) => `  ${l}`)].join('\n'));
    console.log('');
  }
  console.log(
    `${events.length} ALM events, ${spans.length} spans. Piped, this example prints the events as JSON lines.`,
  );
}

if (require.main === module) void (process.stdout.isTTY ? asPicture() : asJsonLines());
