/**
 * `enabled: false` / ALM_ENABLED=false: nothing observed (no spans, events, timers or exit hooks),
 * tools are plain functions, and the policy still decides.
 */
import { createHook } from 'node:async_hooks';
import { ALM, ALMConfigError, ToolDeniedError } from '../../src';
import { createTestALM, type TestALM } from '../../src/testing';
import { runTsx } from '../helpers/scripts';

let alm: TestALM;
afterEach(() => alm?.shutdown());

/** Timers (and immediates) created while `fn` runs synchronously, unref'd ones included. */
function timersCreatedBy<T>(fn: () => T): { result: T; timers: number } {
  let timers = 0;
  const hook = createHook({
    init(_id, type) {
      if (type === 'Timeout' || type === 'Immediate') timers++;
    },
  }).enable();
  try {
    return { result: fn(), timers };
  } finally {
    hook.disable();
  }
}

const HOOKS = ['beforeExit', 'SIGTERM', 'SIGINT'] as const;
const hooks = () => HOOKS.map((event) => process.listenerCount(event));

describe('enabled: false', () => {
  it('records nothing: no spans, no events, no timers, no exit hooks', async () => {
    const before = hooks();
    let disabled!: ALM;
    const { result, timers } = timersCreatedBy(() => {
      disabled = new ALM({ agentId: 'a', enabled: false, events: { sink: 'stdout', flushIntervalMs: 1 } });
      const search = disabled.tool('search', (q: string) => `found ${q}`);
      return disabled.run({ purpose: 'p' }, (run) => {
        expect(run.traceId).toBeNull();
        expect(disabled.currentRunId()).toBe(run.runId);
        disabled.handoff({ toAgentId: 'other' });
        return disabled.task({ type: 't' }, (task) => {
          expect(task.runId).toBe(run.runId);
          return search('x');
        });
      });
    });
    expect(result).toBe('found x');
    expect(timers).toBe(0);
    expect(hooks()).toEqual(before);
    expect(await disabled.run(async () => disabled.currentRunId())).toMatch(/^[0-9a-f-]{36}$/);
    expect(disabled.stats()).toEqual({ emitted: 0, delivered: 0, retried: 0, failed: 0, dropped: 0, queued: 0 });
    expect(disabled.spanProcessors).toEqual([]);
    expect(disabled.enabled).toBe(false);
    await disabled.shutdown();
    // With an SDK and an event sink in place: nothing reaches either.
    alm = createTestALM({ enabled: false });
    alm.run(() => alm.task(() => alm.tool('search', (q: string) => q)('x')));
    expect(await alm.events()).toEqual([]);
    expect(alm.spans()).toEqual([]);
  });

  it('is what makes the difference: the same calls enabled leave spans, events, a timer and exit hooks', async () => {
    const before = hooks();
    let enabled!: ALM;
    const { timers } = timersCreatedBy(() => {
      enabled = new ALM({ agentId: 'a', events: { sink: () => {}, flushIntervalMs: 60_000 } });
      enabled.run(() => enabled.tool('search', (q: string) => q)('x'));
    });
    expect(timers).toBe(1); // the pipeline's flush timer
    expect(hooks()).not.toEqual(before);
    expect(enabled.stats().emitted).toBe(5);
    await enabled.shutdown();
    alm = createTestALM();
    alm.run(() => alm.tool('search', (q: string) => q)('x'));
    expect(alm.spans().length).toBe(2);
    expect((await alm.events()).length).toBe(5);
  });

  it('hands back the tool itself when policy cannot deny it', () => {
    alm = createTestALM({ enabled: false });
    const fn = (a: number) => a + 1;
    expect(alm.tool('add', fn)).toBe(fn);
    const monitored = new ALM({ agentId: 'a', enabled: false, policy: { deniedTools: ['add'], mode: 'monitor' } });
    expect(monitored.tool('add', fn)).toBe(fn); // monitor mode blocks nothing
  });

  it('still applies the policy: deny lists and budgets, sync and async', async () => {
    alm = createTestALM({ enabled: false, policy: { deniedTools: ['rm_*'], maxToolCallsPerRun: 2 } });
    let ran = 0;
    const rm = alm.tool('rm_rf', () => ran++);
    const rmAsync = alm.tool('rm_async', async () => ran++);
    const ok = alm.tool('ok', function named(x: number) {
      ran++;
      return x;
    });
    expect(ok.name).toBe('named');
    expect(ok.length).toBe(1);
    expect(() => rm()).toThrow(new ToolDeniedError('rm_rf', 'id', "Tool 'rm_rf' is in denied_tools list"));
    await expect(rmAsync()).rejects.toBeInstanceOf(ToolDeniedError);
    expect(ran).toBe(0);
    expect(ok(1)).toBe(1); // outside a run: no budget
    ran = 0;
    alm.run(() => {
      ok(1);
      ok(2);
      expect(() => ok(3)).toThrow("Tool 'ok' denied: Budget exceeded: 2/2 tool calls");
    });
    expect(ran).toBe(2);
    await alm.run(async () => {
      await Promise.all([1, 2, 3].map(async (i) => ok(i)).map((p) => p.catch(() => 'denied')));
    });
    expect(ran).toBe(4); // a fresh budget per run, exact under concurrency
    expect(await alm.events()).toEqual([]);
    expect(alm.spans()).toEqual([]);
  });

  it('needs no endpoint for an http sink (nothing is sent), and rejects a bad ALM_ENABLED', () => {
    expect(() => new ALM({ agentId: 'a', enabled: false, events: { sink: 'http' } })).not.toThrow();
    expect(() => new ALM({ agentId: 'a', events: { sink: 'http' } })).toThrow(ALMConfigError);
    const saved = process.env.ALM_ENABLED;
    try {
      process.env.ALM_ENABLED = 'False';
      expect(new ALM({ agentId: 'a' }).enabled).toBe(false);
      expect(new ALM({ agentId: 'a', enabled: true }).enabled).toBe(true); // the option wins
      process.env.ALM_ENABLED = 'nope';
      expect(() => new ALM({ agentId: 'a' })).toThrow(
        'enabled: must be true or false (from ALM_ENABLED: true, false, 1 or 0)',
      );
    } finally {
      if (saved === undefined) delete process.env.ALM_ENABLED;
      else process.env.ALM_ENABLED = saved;
    }
  });
});

describe('ALM_ENABLED=false', () => {
  it('the toy agent prints no events and its policy still denies and stops the budget', async () => {
    const { stdout, stderr } = await runTsx('examples/toy-agent.ts', [], { ALM_ENABLED: 'false' });
    expect(stdout).toBe('');
    expect(stderr).toContain(
      "Expected denial: Tool 'dangerous_tool' denied: Tool 'dangerous_tool' is in denied_tools list",
    );
    expect(stderr).toContain('Budget stop after 5 more calls: Budget exceeded: 8/8 tool calls');
    expect(stderr).toContain('"emitted":0');
  }, 60_000);
});
