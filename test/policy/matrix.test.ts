/** The policy matrix: every rule, in the reference's order and words, observed through real tool calls. */
import { ToolDeniedError, type ALMOptions } from '../../src';
import { createHarness, ofType, type Harness } from '../helpers/harness';

type Policy = NonNullable<ALMOptions['policy']>;

interface Case {
  name: string;
  policy: Policy;
  tool: string;
  decision: 'allow' | 'deny';
  reason: string;
}

const cases: Case[] = [
  { name: 'default allow', policy: {}, tool: 'search', decision: 'allow', reason: 'allowed' },
  {
    name: 'deny list, exact',
    policy: { deniedTools: ['delete_user'] },
    tool: 'delete_user',
    decision: 'deny',
    reason: "Tool 'delete_user' is in denied_tools list",
  },
  {
    name: 'deny list, glob',
    policy: { deniedTools: ['delete_*'] },
    tool: 'delete_everything',
    decision: 'deny',
    reason: "Tool 'delete_everything' is in denied_tools list",
  },
  {
    name: 'glob anchors the whole name',
    policy: { deniedTools: ['delete_*'] },
    tool: 'undelete_item',
    decision: 'allow',
    reason: 'allowed',
  },
  {
    name: 'glob characters are literal apart from *',
    policy: { deniedTools: ['a.b*'] },
    tool: 'axb',
    decision: 'allow',
    reason: 'allowed',
  },
  {
    name: 'allow list, glob',
    policy: { allowedTools: ['read_*'] },
    tool: 'read_file',
    decision: 'allow',
    reason: 'allowed',
  },
  {
    name: 'outside a non-empty allow list',
    policy: { allowedTools: ['search', 'read_*'] },
    tool: 'write_file',
    decision: 'deny',
    reason: "Tool 'write_file' is not in allowed_tools list",
  },
  {
    name: 'deny list wins over allow list',
    policy: { allowedTools: ['*'], deniedTools: ['shell'] },
    tool: 'shell',
    decision: 'deny',
    reason: "Tool 'shell' is in denied_tools list",
  },
  {
    name: 'allow list wins over defaultAllow false',
    policy: { allowedTools: ['search'], defaultAllow: false },
    tool: 'search',
    decision: 'allow',
    reason: 'allowed',
  },
  {
    name: 'defaultAllow false and no allow list',
    policy: { defaultAllow: false },
    tool: 'search',
    decision: 'deny',
    reason: 'default_allow is False and no allowed_tools specified',
  },
  {
    name: 'a budget of 0 stops the first call',
    policy: { maxToolCallsPerRun: 0, deniedTools: ['search'] },
    tool: 'search',
    decision: 'deny',
    reason: 'Budget exceeded: 0/0 tool calls',
  },
];

describe('policy matrix', () => {
  let h: Harness;
  afterEach(() => h.close());

  it.each(cases)('$name: $tool is $decision', async ({ policy, tool, decision, reason }) => {
    h = createHarness({ alm: { policy } });
    let ran = false;
    const wrapped = h.alm.tool(tool, () => {
      ran = true;
      return 'done';
    });
    const outcome = await h.alm.run(() => {
      try {
        return wrapped();
      } catch (error) {
        return error;
      }
    });
    expect(ran).toBe(decision === 'allow');
    if (decision === 'deny') {
      expect(outcome).toBeInstanceOf(ToolDeniedError);
      expect(outcome).toMatchObject({ toolName: tool, reason });
    } else {
      expect(outcome).toBe('done');
    }
    const events = await h.flushEvents();
    expect(ofType(events, 'policy.decision').map((e) => [e.metadata.decision, e.metadata.reason])).toEqual([
      [decision, reason],
    ]);
    const span = h.span(`execute_tool ${tool}`);
    expect(span.attributes['alm.policy.decision']).toBe(decision);
    const decisions = span.events.filter((e) => e.name === 'policy.decision');
    // Only a denial is also a span event.
    expect(decisions.map((e) => e.attributes?.['alm.policy.decision'])).toEqual(decision === 'deny' ? ['deny'] : []);
    // A denied call is an error on the trace: status ERROR and the exception recorded.
    expect(span.status.code).toBe(decision === 'deny' ? 2 : 0);
    expect(span.events.some((e) => e.name === 'exception')).toBe(decision === 'deny');
  });

  it('checks the budget first: calls that ran count, denied calls do not', async () => {
    h = createHarness({ alm: { policy: { maxToolCallsPerRun: 2, deniedTools: ['nope'] } } });
    const ok = h.alm.tool('ok', () => 1);
    const failing = h.alm.tool('failing', () => {
      throw new Error('boom');
    });
    const nope = h.alm.tool('nope', () => 0);
    await h.alm.run(() => {
      expect(() => nope()).toThrow(ToolDeniedError); // denied: does not count
      expect(() => failing()).toThrow('boom'); // ran: counts
      expect(ok()).toBe(1); // ran: counts
      expect(() => ok()).toThrow("Tool 'ok' denied: Budget exceeded: 2/2 tool calls");
      expect(() => nope()).toThrow('Budget exceeded: 2/2 tool calls'); // budget is checked before the deny list
    });
    const events = await h.flushEvents();
    expect(ofType(events, 'policy.decision').map((e) => e.metadata.reason)).toEqual([
      "Tool 'nope' is in denied_tools list",
      'allowed',
      'allowed',
      'Budget exceeded: 2/2 tool calls',
      'Budget exceeded: 2/2 tool calls',
    ]);
    const [end] = ofType(events, 'run.end');
    expect(end!.metadata.summary.tool_calls).toEqual({ total: 5, allowed: 2, denied: 3, error: 1, retried: 0 });
  });

  it('monitor mode decides and records, flags the violation, and never blocks', async () => {
    h = createHarness({ alm: { policy: { deniedTools: ['shell'], maxToolCallsPerRun: 1, mode: 'monitor' } } });
    const shell = h.alm.tool('shell', (cmd: string) => `ran ${cmd}`);
    const results = await h.alm.run(() => [shell('ls'), shell('pwd')]);
    expect(results).toEqual(['ran ls', 'ran pwd']);
    const events = await h.flushEvents();
    expect(ofType(events, 'policy.decision').map((e) => e.metadata.decision)).toEqual(['deny', 'deny']);
    expect(ofType(events, 'tool.response').map((e) => e.metadata.status)).toEqual(['success', 'success']);
    for (const span of h.spans().filter((s) => s.name === 'execute_tool shell')) {
      expect(span.attributes).toMatchObject({ 'alm.policy.decision': 'deny', 'alm.policy.violation': true });
    }
  });

  it('an async tool denied by policy rejects instead of throwing', async () => {
    h = createHarness({ alm: { policy: { deniedTools: ['fetch_url'] } } });
    const fetchUrl = h.alm.tool('fetch_url', async (url: string) => url);
    const pending = h.alm.run(() => fetchUrl('http://example.test'));
    await expect(pending).rejects.toBeInstanceOf(ToolDeniedError);
  });
});
