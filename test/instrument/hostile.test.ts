/**
 * Hostile inputs at the API: whatever a tool is given or a caller names, every call that runs keeps
 * its three events and a closed span, events stay bounded, and input never picks a prototype.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { ALM } from '../../src';
import { MAX_STRING_LENGTH, TRUNCATED_SUFFIX } from '../../src/events/capture';
import { createHarness, ofType, type Harness } from '../helpers/harness';

describe('hostile input', () => {
  let h: Harness;
  afterEach(() => h.close());

  it('a call whose only argument is a Proxy with throwing traps keeps its events, span and count', async () => {
    h = createHarness();
    const trap = () => {
      throw new Error('trap');
    };
    const hostile = new Proxy({}, { getPrototypeOf: trap, ownKeys: trap, get: trap, has: trap });
    const echo = h.alm.tool('echo', (_arg: unknown) => 'done');
    expect(h.alm.run(() => echo(hostile))).toBe('done');
    const events = await h.flushEvents();
    const mine = events.filter((e) => 'tool_name' in e.metadata && e.metadata.tool_name === 'echo');
    expect(mine.map((e) => e.event_type)).toEqual(['tool.request', 'policy.decision', 'tool.response']);
    expect(ofType(events, 'tool.request')[0]!.metadata.args).toEqual({ args: ['[Unreadable]'] });
    expect(ofType(events, 'run.end')[0]!.metadata.summary.tool_calls).toMatchObject({ total: 1, allowed: 1 });
    expect(h.span('execute_tool echo').ended).toBe(true);
  });

  it('a __proto__ key in tool arguments and handoff context stays plain data', async () => {
    h = createHarness();
    const hostile = JSON.parse('{"query": "q", "__proto__": {"isAdmin": true}}') as Record<string, unknown>;
    const search = h.alm.tool('search', (_o: object) => 1);
    h.alm.run(() => {
      search(hostile);
      h.alm.handoff({ toAgentId: 'next', context: hostile });
    });
    const events = await h.flushEvents();
    const args = ofType(events, 'tool.request')[0]!.metadata.args as { inputs: Record<string, unknown> };
    expect(Object.keys(args)).toEqual(['inputs']);
    expect(Object.getPrototypeOf(args.inputs)).toBe(Object.prototype);
    expect(args.inputs.isAdmin).toBeUndefined();
    expect(JSON.stringify(args)).toBe('{"inputs":{"query":"q","__proto__":{"isAdmin":true}}}');
    const context = ofType(events, 'handoff')[0]!.metadata.context as Record<string, unknown>;
    expect(JSON.stringify(context)).toBe('{"query":"q","__proto__":{"isAdmin":true}}');
    expect((context as { isAdmin?: unknown }).isAdmin).toBeUndefined();
  });

  it('bounds name-like fields like every other captured string, on events and spans', async () => {
    h = createHarness({ alm: { policy: { deniedTools: ['blocked_*'] } } });
    const huge = 'n'.repeat(1_000_000);
    const bounded = 'n'.repeat(MAX_STRING_LENGTH) + TRUNCATED_SUFFIX;
    const tool = h.alm.tool(huge, () => 1);
    // Policy still sees the whole name.
    const denied = h.alm.tool('blocked_' + huge, () => 1);
    h.alm.run({ purpose: huge }, () => {
      h.alm.task({ type: huge, description: huge }, () => tool());
      expect(() => denied()).toThrow('denied');
      h.alm.handoff({ toAgentId: huge, reason: huge });
    });
    const events = await h.flushEvents();
    for (const event of events) expect(JSON.stringify(event).length).toBeLessThan(5 * 1024);
    expect(ofType(events, 'run.start')[0]!.metadata.purpose).toBe(bounded);
    expect(ofType(events, 'task.start')[0]!.metadata).toMatchObject({ task_type: bounded, description: bounded });
    expect(ofType(events, 'tool.request')[0]!.metadata.tool_name).toBe(bounded);
    expect(ofType(events, 'policy.decision')[1]!.metadata.decision).toBe('deny');
    expect(ofType(events, 'handoff')[0]!.metadata).toMatchObject({ to_agent_id: bounded, reason: bounded });
    for (const span of h.spans()) {
      expect(span.name.length).toBeLessThan(2 * MAX_STRING_LENGTH);
      expect(JSON.stringify(span.attributes).length).toBeLessThan(12 * 1024);
    }
  });

  it('passes a handoff context through whatever its shape, as the reference does, and drops empty ones', async () => {
    h = createHarness();
    h.alm.run(() => {
      h.alm.handoff({ toAgentId: 'a', context: ['step 1', { token: 't' }] });
      h.alm.handoff({ toAgentId: 'b', context: 'plain words' });
      h.alm.handoff({ toAgentId: 'c', context: 42 });
      for (const empty of [null, undefined, '', [], {}, 0, false]) h.alm.handoff({ toAgentId: 'd', context: empty });
    });
    const handoffs = ofType(await h.flushEvents(), 'handoff');
    expect(handoffs.map((e) => e.metadata.context)).toEqual([
      ['step 1', { token: '***REDACTED***' }],
      'plain words',
      42,
      ...Array(7).fill(undefined),
    ]);
    expect(handoffs.slice(3).every((e) => !('context' in e.metadata))).toBe(true);
  });
});

describe('after shutdown', () => {
  /** Node's async_hooks-based AsyncLocalStorage (Node 20, 22) has `enabled`; AsyncContextFrame (24+) costs no per-promise work. */
  const enabled = (alm: ALM) =>
    (alm as unknown as { rt: { storage: AsyncLocalStorage<unknown> & { enabled?: boolean } } }).rt.storage.enabled;

  it('an instance leaves no AsyncLocalStorage enabled, and a later run still has its budget', async () => {
    const instances = Array.from(
      { length: 20 },
      () => new ALM({ agentId: 'a', events: { sink: 'none' }, policy: { maxToolCallsPerRun: 1 } }),
    );
    for (const alm of instances) {
      const t = alm.tool('t', async () => 1);
      await alm.run(async () => {
        await t();
      });
      if (enabled(alm) !== undefined) expect(enabled(alm)).toBe(true);
      await alm.shutdown();
      if (enabled(alm) !== undefined) expect(enabled(alm)).toBe(false);
    }
    const alm = instances[0]!;
    const t = alm.tool('t', async () => 1);
    // Tools called afterwards still run and are policed, budget included, while their run is open.
    await alm.run(async () => {
      await t();
      await expect(t()).rejects.toThrow('Budget exceeded: 1/1 tool calls');
    });
    if (enabled(alm) !== undefined) expect(enabled(alm)).toBe(false);
  });

  it('a run open at shutdown keeps its budget until it ends', async () => {
    const alm = new ALM({ agentId: 'a', events: { sink: 'none' }, policy: { maxToolCallsPerRun: 1 } });
    const t = alm.tool('t', async () => 1);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const run = alm.run(async () => {
      await t();
      await gate;
      await expect(t()).rejects.toThrow('Budget exceeded');
    });
    await alm.shutdown();
    release();
    await run;
    if (enabled(alm) !== undefined) expect(enabled(alm)).toBe(false);
  });
});

describe('hostile framework input', () => {
  let h: Harness;
  afterEach(() => h.close());

  it('an AI SDK options object whose getters throw costs the call id, not the call, and ids are bounded', async () => {
    h = createHarness();
    const hostileOptions = Object.defineProperty({}, 'toolCallId', {
      get() {
        throw new Error('getter trap');
      },
    });
    const tools = h.alm.aiSdkTools({
      search: { execute: async (input: { q: string }, _options?: unknown) => `found ${input.q}` },
    });
    await h.alm.run(async () => {
      expect(await tools.search.execute({ q: 'a' }, hostileOptions)).toBe('found a');
      expect(await tools.search.execute({ q: 'b' }, { toolCallId: 'x'.repeat(100_000) })).toBe('found b');
    });
    const requests = ofType(await h.flushEvents(), 'tool.request');
    expect(requests).toHaveLength(2);
    expect(requests[0]!.metadata.tool_call_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(requests[1]!.metadata.tool_call_id).toBe('x'.repeat(MAX_STRING_LENGTH) + TRUNCATED_SUFFIX);
    expect(h.errors.map((e) => e.message)).toEqual(['getter trap']);
  });
});
