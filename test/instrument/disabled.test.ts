/**
 * `enabled: false` / ALM_ENABLED=false: nothing observed (no spans, events, timers or exit hooks),
 * tools are plain functions, and the policy still decides.
 */
import { ALM, ALMConfigError, ToolDeniedError } from '../../src';
import { createHarness, type Harness } from '../helpers/harness';
import { runTsx } from '../helpers/scripts';

let h: Harness;
afterEach(() => h?.close());

function timers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'Immediate').length;
}

const HOOKS = ['beforeExit', 'SIGTERM', 'SIGINT'] as const;
const hooks = () => HOOKS.map((event) => process.listenerCount(event));

describe('enabled: false', () => {
  it('records nothing: no spans, no events, no timers, no exit hooks', async () => {
    const before = { timers: timers(), hooks: hooks() };
    h = createHarness({ alm: { enabled: false, events: { sink: 'stdout', flushIntervalMs: 1 } } });
    const search = h.alm.tool('search', (q: string) => `found ${q}`);
    const result = await h.alm.run({ purpose: 'p' }, async (run) => {
      expect(run.traceId).toBeNull();
      expect(h.alm.currentRunId()).toBe(run.runId);
      h.alm.handoff({ toAgentId: 'other' });
      return h.alm.task({ type: 't' }, (task) => {
        expect(task.runId).toBe(run.runId);
        return search('x');
      });
    });
    expect(result).toBe('found x');
    expect(timers()).toBe(before.timers);
    expect(hooks()).toEqual(before.hooks);
    await h.alm.flush();
    expect(h.spans()).toEqual([]);
    expect(h.events).toEqual([]);
    expect(h.alm.stats()).toEqual({ emitted: 0, delivered: 0, retried: 0, failed: 0, dropped: 0, queued: 0 });
    expect(h.alm.spanProcessors).toEqual([]);
    expect(h.alm.enabled).toBe(false);
  });

  it('is what makes the difference: the same calls enabled leave spans, events, a timer and exit hooks', async () => {
    const before = { timers: timers(), hooks: hooks() };
    h = createHarness({ alm: { events: { sink: () => {}, flushIntervalMs: 60_000 } } });
    h.alm.run(() => h.alm.tool('search', (q: string) => q)('x'));
    expect(timers()).toBeGreaterThan(before.timers);
    expect(hooks()).not.toEqual(before.hooks);
    expect(h.spans().length).toBe(2);
    expect(h.alm.stats().emitted).toBe(5);
  });

  it('hands back the tool itself when policy cannot deny it', () => {
    h = createHarness({ alm: { enabled: false } });
    const fn = (a: number) => a + 1;
    expect(h.alm.tool('add', fn)).toBe(fn);
    const monitored = new ALM({ agentId: 'a', enabled: false, policy: { deniedTools: ['add'], mode: 'monitor' } });
    expect(monitored.tool('add', fn)).toBe(fn); // monitor mode blocks nothing
  });

  it('still applies the policy: deny lists and budgets, sync and async', async () => {
    h = createHarness({
      alm: { enabled: false, policy: { deniedTools: ['rm_*'], maxToolCallsPerRun: 2 } },
    });
    let ran = 0;
    const rm = h.alm.tool('rm_rf', () => ran++);
    const rmAsync = h.alm.tool('rm_async', async () => ran++);
    const ok = h.alm.tool('ok', function named(x: number) {
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
    h.alm.run(() => {
      ok(1);
      ok(2);
      expect(() => ok(3)).toThrow("Tool 'ok' denied: Budget exceeded: 2/2 tool calls");
    });
    expect(ran).toBe(2);
    await h.alm.run(async () => {
      await Promise.all([1, 2, 3].map(async (i) => ok(i)).map((p) => p.catch(() => 'denied')));
    });
    expect(ran).toBe(4); // a fresh budget per run, exact under concurrency
    expect(h.events).toEqual([]);
    expect(h.spans()).toEqual([]);
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
