/**
 * The reference SDK's toy-agent scenario, event for event. The fixture is what r3fresh 1.0.0 (the
 * reference implementation of the ALM schema) printed for it: see test/fixtures/reference/. alm-otel
 * must produce the same events, field for field and in the same key order, differing only in what
 * is random or measured (ids, timestamps, latencies), the SDK version, and the additive
 * trace_id/span_id.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALM, ToolDeniedError, type ALMEvent } from '../src';
import { sleep, validated } from './helpers/harness';

const FIXTURE = join(__dirname, 'fixtures/reference/toy-agent.r3fresh-1.0.0.jsonl');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const MEASURED = new Set([
  'latency_ms',
  'policy_latency_ms',
  'tool_latency_ms',
  'total_latency_ms',
  'avg_tool_ms',
  'avg_policy_ms',
  'total_run_ms',
]);

/** Replace ids by stable placeholders and measured values by their kind; keep key order. */
function normalize(events: Record<string, unknown>[]): string[] {
  const ids = new Map<string, string>();
  const placeholder = (prefix: string, id: unknown) => {
    expect(id).toMatch(UUID);
    if (!ids.has(id as string)) ids.set(id as string, `${prefix}${ids.size + 1}`);
    return ids.get(id as string);
  };
  const walk = (value: unknown, key = ''): unknown => {
    if (MEASURED.has(key)) {
      expect(typeof value).toBe('number');
      expect(value).toBeGreaterThanOrEqual(0);
      return '<ms>';
    }
    if (key === 'run_id') return placeholder('run-', value);
    if (key === 'task_id') return placeholder('task-', value);
    if (key === 'tool_call_id') return placeholder('call-', value);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, k)]));
    }
    return value;
  };
  return events.map((event) => {
    const { event_id, timestamp, sdk_version, trace_id: _t, span_id: _s, ...rest } = event;
    expect(event_id).toMatch(UUID);
    expect(timestamp).toMatch(TIMESTAMP);
    expect(typeof sdk_version).toBe('string');
    return JSON.stringify(walk(rest));
  });
}

class ConnectionError extends Error {}

/** The reference toy agent (examples/toy_agent.py of r3fresh), written with alm-otel. */
async function toyAgent(events: ALMEvent[]): Promise<void> {
  const alm = new ALM({
    agentId: 'toy-agent-1',
    env: 'development',
    agentVersion: '0.0.1-toy',
    policyVersion: '0.0.1-policy',
    policy: {
      allowedTools: ['safe_tool', 'flaky_tool', 'slow_tool'],
      deniedTools: ['dangerous_tool'],
      defaultAllow: false,
      maxToolCallsPerRun: 25,
    },
    events: { sink: (batch) => void events.push(...batch) },
  });
  const safeTool = alm.tool('safe_tool', ({ message }: { message: string }) => `Safe: ${message}`);
  const slowTool = alm.tool('slow_tool', async ({ ms }: { ms: number }) => {
    await sleep(ms);
    return `Slept ${ms}ms`;
  });
  const flakyTool = alm.tool('flaky_tool', ({ should_fail }: { should_fail: boolean }) => {
    if (should_fail) throw new ConnectionError('Simulated connection timeout');
    return { ok: true };
  });
  const dangerousTool = alm.tool('dangerous_tool', (_: Record<string, never>) => {
    throw new Error('policy did not deny the tool');
  });

  await alm.run({ purpose: 'Toy agent smoke test' }, async () => {
    await alm.task({ description: 'Happy path tools' }, async () => {
      safeTool({ message: 'Hello, World!' });
      await slowTool({ ms: 150 });
    });
    alm.task({ description: 'Policy deny test' }, () => {
      expect(() => dangerousTool({})).toThrow(ToolDeniedError);
    });
    alm.task({ description: 'Error capture test' }, () => {
      expect(() => flakyTool({ should_fail: true })).toThrow(ConnectionError);
    });
    alm.handoff({
      toAgentId: 'next-agent',
      reason: 'Demonstrate handoff event emission',
      context: { note: 'handoff triggered after tests' },
    });
  });
  await alm.shutdown();
}

describe('the reference scenario', () => {
  it('matches the reference SDK event for event, field for field', async () => {
    const reference = readFileSync(FIXTURE, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const events: ALMEvent[] = [];
    await toyAgent(events);
    validated(events);
    expect(events).toHaveLength(reference.length);
    expect(normalize(events as unknown as Record<string, unknown>[])).toEqual(normalize(reference));
    // The envelope keeps the reference's key order; correlation fields come last.
    for (const e of events) {
      expect(Object.keys(e)).toEqual([...Object.keys(reference[0]!), 'trace_id', 'span_id']);
    }
  });
});
