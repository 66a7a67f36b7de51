/** `alm-otel/testing` under jest: captured events and spans, isolation, lookups, reset. */
import { trace } from '@opentelemetry/api';
import { ToolDeniedError } from '../../src';
import { createTestALM, type TestALM } from '../../src/testing';

const open: TestALM[] = [];
function testALM(...args: Parameters<typeof createTestALM>): TestALM {
  const alm = createTestALM(...args);
  open.push(alm);
  return alm;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((alm) => alm.shutdown()));
});

describe('createTestALM', () => {
  it("captures a run's events and spans, and finds them by run", async () => {
    const alm = testALM({ policy: { deniedTools: ['rm'] } });
    const search = alm.tool('search', (q: string) => `found ${q}`);
    const rm = alm.tool('rm', () => 'gone');
    const first = await alm.run({ purpose: 'first' }, async (run) => {
      await alm.task({ type: 'look' }, () => search('otel'));
      expect(() => rm()).toThrow(ToolDeniedError);
      alm.handoff({ toAgentId: 'writer' });
      return run.runId;
    });
    const second = alm.run((run) => (search('again'), run.runId));

    const events = await alm.events();
    expect(events.map((e) => e.event_type).slice(0, 4)).toEqual([
      'run.start',
      'task.start',
      'tool.request',
      'policy.decision',
    ]);
    expect((await alm.runEvents(first)).every((e) => e.run_id === first)).toBe(true);
    expect((await alm.runEvents()).map((e) => e.run_id)).toEqual(Array(5).fill(second)); // the last run
    const denied = (await alm.eventsOfType('tool.response', first)).filter((e) => e.metadata.status === 'denied');
    expect(denied.map((e) => e.metadata.tool_name)).toEqual(['rm']);

    expect(alm.spanTreeText(first)).toBe(
      [
        'invoke_agent test-agent  ✓',
        '  task look  ✓',
        '    execute_tool search  ✓',
        '  execute_tool rm  ⊘ DENIED',
        '  handoff writer',
      ].join('\n'),
    );
    expect(alm.spanTree()?.span.attributes['alm.run.id']).toBe(second);
    expect(alm.span('execute_tool rm').attributes['alm.policy.decision']).toBe('deny');
    expect(alm.errors).toEqual([]);
  });

  it('registers nothing globally and keeps instances apart', async () => {
    const a = testALM({ agentId: 'a' });
    const b = testALM({ agentId: 'b' });
    await Promise.all([a.run(async () => a.tool('x', () => 1)()), b.run(async () => b.tool('y', () => 2)())]);
    expect(a.spans().map((s) => s.name)).toEqual(['execute_tool x', 'invoke_agent a']);
    expect(b.spans().map((s) => s.name)).toEqual(['execute_tool y', 'invoke_agent b']);
    expect(new Set((await a.events()).map((e) => e.agent_id))).toEqual(new Set(['a']));
    // The global API still has no SDK behind it.
    expect(trace.getTracer('probe').startSpan('probe').isRecording()).toBe(false);
  });

  it("holds another instrumentation's tool spans to the policy, through the ALM's processors", async () => {
    const alm = testALM({ policy: { deniedTools: ['shell'] } });
    alm.run(() =>
      alm.tracer
        .startSpan('execute_tool shell', {
          attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'shell' },
        })
        .end(),
    );
    expect(alm.span('execute_tool shell').attributes).toMatchObject({
      'alm.policy.decision': 'deny',
      'alm.policy.violation': true,
    });
    expect((await alm.eventsOfType('policy.decision')).map((e) => e.metadata.decision)).toEqual(['deny']);
  });

  it('reset forgets what was captured; the instance goes on', async () => {
    const alm = testALM();
    const tool = alm.tool('t', () => 1);
    alm.run(() => tool());
    expect((await alm.events()).length).toBe(5);
    alm.reset();
    expect(alm.spans()).toEqual([]);
    expect(await alm.events()).toEqual([]);
    alm.run(() => tool());
    expect((await alm.events()).length).toBe(5);
    expect(alm.spanTreeText()).toBe('invoke_agent test-agent  ✓\n  execute_tool t  ✓');
  });

  it('installs no exit hooks and leaves no timer that would keep the test runner alive', async () => {
    const hooks = () => ['beforeExit', 'SIGTERM', 'SIGINT'].map((e) => process.listenerCount(e));
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = { hooks: hooks(), timers: timers() };
    const alm = testALM();
    alm.run(() => alm.tool('t', () => 1)());
    await alm.events();
    expect(hooks()).toEqual(before.hooks);
    expect(timers()).toBe(before.timers);
  });

  it('passes options through, refuses the ones it owns, and keeps the onError given', async () => {
    const seen: Error[] = [];
    const alm = testALM({ enabled: false, onError: (e) => seen.push(e) });
    expect(alm.enabled).toBe(false);
    alm.run(() => alm.tool('t', () => 1)());
    expect(await alm.events()).toEqual([]);
    expect(alm.spans()).toEqual([]);
    expect(() => createTestALM({ events: { sink: 'stdout' } } as never)).toThrow(
      'createTestALM: events.sink is not an option here',
    );
    expect(() => createTestALM({ policy: { mode: 'nope' } } as never)).toThrow('policy.mode');
    expect(seen).toEqual([]);
  });
});

describe('createTestALM, between tests', () => {
  it("reset also discards the events still queued: the next test never sees the last one's run", async () => {
    const alm = testALM({ events: { batchSize: 2 } });
    const tool = alm.tool('t', () => 1);
    // Test 1 ends without asking for its events: they are still queued (or on their way).
    const first = alm.run(() => (tool(), alm.currentRunId()));
    alm.reset();
    // Test 2.
    const second = alm.run(() => (tool(), alm.currentRunId()));
    const events = await alm.events();
    expect(new Set(events.map((e) => e.run_id))).toEqual(new Set([second]));
    expect(events.map((e) => e.event_type)).toEqual([
      'run.start',
      'tool.request',
      'policy.decision',
      'tool.response',
      'run.end',
    ]);
    expect(first).not.toBe(second);
    // Half delivered, half queued at the reset.
    const half = alm.run(() => (tool(), tool(), alm.currentRunId()));
    await new Promise((resolve) => setImmediate(resolve));
    alm.reset();
    alm.run(() => tool());
    expect((await alm.events()).filter((e) => e.run_id === half)).toEqual([]);
    expect(await alm.events()).toHaveLength(5);
  });

  it("spanTreeText shows each call's outcome, so identical calls are told apart", async () => {
    const alm = testALM({ policy: { maxToolCallsPerRun: 2 } });
    const read = alm.tool('read_file', (path: string) => {
      if (path === 'missing') throw Object.assign(new Error('no such file'), { name: 'NotFound' });
      return path;
    });
    await alm.run(async () => {
      read('a');
      for (const path of ['missing', 'b']) {
        try {
          read(path);
        } catch {
          // the error, then the budget's denial
        }
      }
    });
    expect(alm.spanTreeText()).toBe(
      [
        'invoke_agent test-agent  ✓',
        '  execute_tool read_file  ✓',
        '  execute_tool read_file  ✗ ERROR NotFound',
        '  execute_tool read_file  ⊘ DENIED',
      ].join('\n'),
    );
    const monitor = testALM({ policy: { deniedTools: ['rm'], mode: 'monitor' } });
    monitor.run(() => monitor.tool('rm', () => 'done')());
    expect(monitor.spanTreeText()).toBe('invoke_agent test-agent  ✓\n  execute_tool rm  ✓ (policy: deny, not blocked)');
  });
});
