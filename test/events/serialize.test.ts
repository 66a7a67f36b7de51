/**
 * serializeEvent writes events field by field; it must be JSON.stringify(event), byte for byte, for
 * every event the pipeline builds, whatever the tool's arguments, results and errors hold.
 */
import { ALM, type ALMEvent } from '../../src';
import { serializeEvent } from '../../src/events/translate';

class Money {
  constructor(readonly cents: number) {}
  toJSON() {
    return `${this.cents / 100} EUR`;
  }
}

function hostileValues(): unknown[] {
  const proto = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as unknown;
  const withProto = Object.create(null) as Record<string, unknown>;
  withProto['__proto__'] = 'own key';
  withProto['constructor'] = { prototype: 1 };
  return [
    { text: 'lone \ud800 high and \udc00 low surrogates, \u2028\u2029, "quotes", \\ and \u0000\u001f' },
    { zero: -0, nan: NaN, inf: -Infinity, huge: 1e308, tiny: 5e-324, big: Number.MAX_SAFE_INTEGER + 2 },
    { nested: { deep: [[[{ list: [1, 'two', null, true, { three: [undefined, () => 1] }] }]]] } },
    proto,
    withProto,
    { price: new Money(1999), when: new Date(0), re: /x/g, map: new Map([[1, 2]]) },
    ['a', -0, NaN, { k: '\ud83d\ude00 emoji and \udead' }],
    'plain text \ud800',
    -0,
    undefined,
  ];
}

async function events(agent: { agentId: string; env: string; agentVersion?: string; policyVersion?: string }) {
  const out: ALMEvent[] = [];
  const alm = new ALM({
    ...agent,
    policy: { deniedTools: ['delete_*'] },
    events: { sink: (batch) => void out.push(...batch), flushOnExit: false },
  });
  const echo = alm.tool('echo', (value: unknown) => value);
  const fail = alm.tool('fail_tool', (value: unknown) => {
    throw Object.assign(new Error(`failed on \ud800 ${String(typeof value)}`), { code: -0 });
  });
  const denied = alm.tool('delete_all', (value: unknown) => value);
  // A tool name that needs escaping, and a retried call (attempt 2, retries 1).
  const odd = alm.tool('odd "name" \\ \ud800\u2028', (value: unknown) => value);
  let tries = 0;
  const flaky = alm.tool(
    'flaky',
    () => {
      if (tries++ === 0) throw Object.assign(new Error('busy'), { retryable: true });
      return 'ok';
    },
    { retry: { maxAttempts: 2, initialDelayMs: 0, retryOn: () => true } },
  );
  await alm.run({ purpose: 'hostile \ud800 "purpose"' }, async (run) => {
    await flaky();
    for (const value of hostileValues()) {
      odd(value);
      echo(value);
      try {
        fail(value);
      } catch {
        // the tool's error is reported in its event
      }
      try {
        denied(value);
      } catch {
        // refused
      }
    }
    await alm.task({ type: 'task \udc00', description: 'd \ud800' }, async () => undefined);
    alm.handoff({ toAgentId: 'agent-b', reason: 'why \ud800', context: { v: -0, n: NaN } });
    void run;
  });
  await alm.shutdown();
  return out;
}

describe('serializeEvent', () => {
  it('is JSON.stringify of every event the pipeline builds, over hostile values', async () => {
    const all = [
      ...(await events({ agentId: 'agent', env: 'development' })),
      ...(await events({
        agentId: 'agent "q" \ud800',
        env: 'prod\n',
        agentVersion: '1.0 \\',
        policyVersion: '\u2028',
      })),
    ];
    expect(all.length).toBeGreaterThan(60);
    expect(new Set(all.map((e) => e.event_type))).toEqual(
      new Set([
        'run.start',
        'run.end',
        'task.start',
        'task.end',
        'tool.request',
        'policy.decision',
        'tool.response',
        'handoff',
      ]),
    );
    for (const event of all) expect(serializeEvent(event)).toBe(JSON.stringify(event));
  });
});
