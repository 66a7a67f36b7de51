/**
 * Tool spans created by other instrumentations (here: the same shape the Vercel AI SDK emits,
 * started with a plain OTel tracer) are held to the policy by the SpanProcessor: counted toward the
 * run's budget, decided, flagged when they violate it, and added to the ALM event stream.
 */
import { createHarness, ofType, type Harness } from '../helpers/harness';

function foreignToolCall(h: Harness, name: string, fail = false): void {
  h.tracer.startActiveSpan(
    `execute_tool ${name}`,
    {
      attributes: {
        'gen_ai.operation.name': 'execute_tool',
        'gen_ai.tool.name': name,
        'gen_ai.tool.call.id': `call_${name}`,
        'gen_ai.tool.call.arguments': '{"city":"Paris"}',
      },
    },
    (span) => {
      if (fail) span.setStatus({ code: 2, message: 'upstream timeout' });
      else span.setAttribute('gen_ai.tool.call.result', '{"temp":21}');
      span.end();
    },
  );
}

describe('PolicySpanProcessor and foreign tool spans', () => {
  let h: Harness;
  afterEach(() => h.close());

  it('decides, counts toward the budget, flags violations and emits events', async () => {
    h = createHarness({ alm: { policy: { maxToolCallsPerRun: 2, deniedTools: ['shell'] } } });
    const own = h.alm.tool('own', () => 'mine');
    await h.alm.run(async () => {
      foreignToolCall(h, 'weather');
      foreignToolCall(h, 'shell');
      // The two foreign calls ran (a processor cannot block), so the budget is spent.
      expect(() => own()).toThrow('Budget exceeded: 2/2 tool calls');
      foreignToolCall(h, 'weather', true);
    });
    const [weather, shell, failedWeather] = h
      .spans()
      .filter((s) => s.name.startsWith('execute_tool ') && s.name !== 'execute_tool own');
    expect(weather!.attributes).toMatchObject({ 'alm.policy.decision': 'allow', 'alm.policy.reason': 'allowed' });
    expect(weather!.attributes['alm.policy.violation']).toBeUndefined();
    expect(shell!.attributes).toMatchObject({
      'alm.policy.decision': 'deny',
      'alm.policy.reason': "Tool 'shell' is in denied_tools list",
      'alm.policy.violation': true,
    });
    expect(failedWeather!.attributes).toMatchObject({
      'alm.policy.decision': 'deny',
      'alm.policy.reason': 'Budget exceeded: 2/2 tool calls',
      'alm.policy.violation': true,
    });
    for (const s of [weather, shell, failedWeather]) {
      // Denials (flagged: they ran) are also span events; the allowed call's decision is its attributes.
      expect(s!.events.filter((e) => e.name === 'policy.decision')).toHaveLength(s === weather ? 0 : 1);
      expect(s!.attributes['alm.run.id']).toBe(h.span('invoke_agent test-agent').attributes['alm.run.id']);
    }

    const events = await h.flushEvents();
    const requests = ofType(events, 'tool.request').filter((e) => e.metadata.tool_name !== 'own');
    expect(requests.map((e) => [e.metadata.tool_call_id, e.metadata.args])).toEqual([
      ['call_weather', { inputs: { city: 'Paris' } }],
      ['call_shell', { inputs: { city: 'Paris' } }],
      ['call_weather', { inputs: { city: 'Paris' } }],
    ]);
    const responses = ofType(events, 'tool.response').filter((e) => e.metadata.tool_name !== 'own');
    expect(responses.map((e) => e.metadata.status)).toEqual(['success', 'success', 'error']);
    expect(responses[0]!.metadata.result).toEqual({ temp: 21 });
    expect(responses[2]!.metadata.error).toEqual({
      type: 'Error',
      message: 'upstream timeout',
      source: 'tool',
      retryable: true,
    });
    expect(ofType(events, 'run.end')[0]!.metadata.summary.tool_calls).toEqual({
      total: 4,
      allowed: 1,
      denied: 3,
      error: 1,
      retried: 0,
    });
  });

  it("redacts and bounds other instrumentations' tool content like its own", async () => {
    h = createHarness();
    h.alm.run(() =>
      h.tracer.startActiveSpan(
        'execute_tool login',
        {
          attributes: {
            'gen_ai.operation.name': 'execute_tool',
            'gen_ai.tool.name': 'login',
            'gen_ai.tool.call.arguments': JSON.stringify({ user: 'u', password: 'hunter2', note: 'x'.repeat(5000) }),
          },
        },
        (span) => {
          span.setAttribute('gen_ai.tool.call.result', JSON.stringify({ session_token: 'abc' }));
          span.end();
        },
      ),
    );
    const events = await h.flushEvents();
    expect(ofType(events, 'tool.request')[0]!.metadata.args).toEqual({
      inputs: { user: 'u', password: '***REDACTED***', note: 'x'.repeat(1000) + '... (truncated)' },
    });
    expect(ofType(events, 'tool.response')[0]!.metadata.result).toEqual({ session_token: '***REDACTED***' });
  });

  it('an alm tool run inside a foreign tool span is one call: counted once, reported once, and enforceable', async () => {
    h = createHarness({ alm: { policy: { maxToolCallsPerRun: 2 } } });
    const search = h.alm.tool('search', (q: string) => `found ${q}`);
    // What an agent framework does: its own execute_tool span around the tool function it was given.
    const framework = (q: string) =>
      h.tracer.startActiveSpan(
        'execute_tool search',
        { attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'search' } },
        (span) => {
          try {
            return search(q);
          } finally {
            span.end();
          }
        },
      );
    await h.alm.run(() => {
      expect(framework('a')).toBe('found a');
      expect(framework('b')).toBe('found b');
      expect(() => framework('c')).toThrow('Budget exceeded: 2/2 tool calls'); // blocked, not just flagged
    });
    const events = await h.flushEvents();
    expect(ofType(events, 'tool.request')).toHaveLength(3);
    expect(ofType(events, 'tool.response').map((e) => e.metadata.status)).toEqual(['success', 'success', 'denied']);
    expect(ofType(events, 'run.end')[0]!.metadata.summary.tool_calls).toMatchObject({
      total: 3,
      allowed: 2,
      denied: 1,
    });
  });

  it('leaves spans that are not tool calls alone', async () => {
    h = createHarness();
    h.tracer.startActiveSpan('chat gpt-5', { attributes: { 'gen_ai.operation.name': 'chat' } }, (s) => s.end());
    expect(h.span('chat gpt-5').attributes['alm.policy.decision']).toBeUndefined();
    expect(await h.flushEvents()).toEqual([]);
  });

  it('forceFlush and shutdown on the processor deliver queued ALM events', async () => {
    h = createHarness();
    const t = h.alm.tool('t', () => 1);
    h.alm.run(() => t());
    await h.provider.forceFlush();
    expect(h.events.map((e) => e.event_type)).toContain('run.end');
  });
});
