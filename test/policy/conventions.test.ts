/**
 * Tool spans of every convention in src/policy/conventions.ts, made by hand with a real in-process SDK
 * in exactly the shapes the instrumentations emit them (attribute names from their published
 * packages; the real packages run in frameworks-test/): decided against the policy when their tool
 * name is known (at start, or later), counted once, flagged when denied, and reported with the
 * framework's call id.
 */
import { context, trace, type Attributes, type Span } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { TOOL_CONVENTIONS } from '../../src/policy/conventions';
import { createHarness, noOnEndingTracer, ofType, type Harness } from '../helpers/harness';

interface Shape {
  /** Attributes that mark the span as a tool span, set at start. */
  kind: Attributes;
  name: (tool: string) => Attributes;
  callId: ((id: string) => Attributes) | undefined;
  args: (json: string) => Attributes;
  result: (json: string) => Attributes;
}

const SHAPES: Record<string, Shape> = {
  'GenAI execute_tool': {
    kind: { 'gen_ai.operation.name': 'execute_tool' },
    name: (n) => ({ 'gen_ai.tool.name': n }),
    callId: (id) => ({ 'gen_ai.tool.call.id': id }),
    args: (j) => ({ 'gen_ai.tool.call.arguments': j }),
    result: (j) => ({ 'gen_ai.tool.call.result': j }),
  },
  'OpenInference TOOL': {
    kind: { 'openinference.span.kind': 'TOOL' },
    name: (n) => ({ 'tool.name': n }),
    callId: (id) => ({ 'tool_call.id': id }),
    args: (j) => ({ 'input.value': j, 'input.mime_type': 'application/json' }),
    result: (j) => ({ 'output.value': j }),
  },
  'OpenLLMetry tool': {
    kind: { 'traceloop.span.kind': 'tool' },
    name: (n) => ({ 'traceloop.entity.name': n, 'traceloop.entity.path': '' }),
    callId: undefined,
    args: (j) => ({ 'traceloop.entity.input': JSON.stringify({ args: [], kwargs: JSON.parse(j) }) }),
    result: (j) => ({ 'traceloop.entity.output': j }),
  },
  'AI SDK ai.toolCall': {
    kind: { 'operation.name': 'ai.toolCall', 'ai.operationId': 'ai.toolCall' },
    name: (n) => ({ 'ai.toolCall.name': n }),
    callId: (id) => ({ 'ai.toolCall.id': id }),
    args: (j) => ({ 'ai.toolCall.args': j }),
    result: (j) => ({ 'ai.toolCall.result': j }),
  },
};

type When = 'start' | 'later';

/** One foreign tool call: the span starts, its attributes arrive at `when`, the body runs, it ends. */
function foreignCall<T>(
  h: Harness,
  shape: Shape,
  tool: string,
  opts: { id?: string; when?: When; fail?: boolean; body?: (span: Span) => T } = {},
): T | undefined {
  const { id = `call-${tool}`, when = 'start', fail = false } = opts;
  const identity = { ...shape.name(tool), ...(shape.callId?.(id) ?? {}), ...shape.args('{"path":"/tmp/x"}') };
  return h.tracer.startActiveSpan(
    `${tool} span`,
    { attributes: when === 'start' ? { ...shape.kind, ...identity } : shape.kind },
    (span) => {
      try {
        if (when === 'later') span.setAttributes(identity);
        const value = opts.body?.(span);
        if (fail) span.setStatus({ code: 2, message: 'tool failed' });
        else span.setAttributes(shape.result('{"ok":true}'));
        return value;
      } finally {
        span.end();
      }
    },
  );
}

function toolSpans(h: Harness): ReadableSpan[] {
  return h.spans().filter((s) => s.name.endsWith(' span'));
}

describe.each(Object.entries(SHAPES))('%s spans', (_label, shape) => {
  let h: Harness;
  afterEach(() => h.close());

  it.each<When>(['start', 'later'])(
    'with the name set at %s: decided, denied ones flagged, three events each, counted',
    async (when) => {
      h = createHarness({ alm: { policy: { deniedTools: ['delete_*'] } } });
      await h.alm.run(async () => {
        foreignCall(h, shape, 'read_file', { when });
        foreignCall(h, shape, 'delete_file', { when });
      });
      const [read, del] = toolSpans(h);
      expect(read!.attributes).toMatchObject({ 'alm.policy.decision': 'allow', 'alm.policy.reason': 'allowed' });
      expect(read!.attributes['alm.policy.violation']).toBeUndefined();
      expect(del!.attributes).toMatchObject({
        'alm.policy.decision': 'deny',
        'alm.policy.reason': "Tool 'delete_file' is in denied_tools list",
        'alm.policy.violation': true,
      });
      // Only the denial is also a span event.
      expect(read!.events.filter((e) => e.name === 'policy.decision')).toHaveLength(0);
      expect(del!.events.filter((e) => e.name === 'policy.decision')).toHaveLength(1);
      for (const s of [read!, del!]) {
        expect(s.attributes['alm.run.id']).toBe(h.span('invoke_agent test-agent').attributes['alm.run.id']);
      }

      const events = await h.flushEvents();
      const ids = (name: string) => (shape.callId ? `call-${name}` : undefined);
      for (const [name, span, decision] of [
        ['read_file', read!, 'allow'],
        ['delete_file', del!, 'deny'],
      ] as const) {
        const mine = events.filter((e) => (e.metadata as { tool_name?: string }).tool_name === name);
        expect(mine.map((e) => e.event_type)).toEqual(['tool.request', 'policy.decision', 'tool.response']);
        const callId = ids(name) ?? span.spanContext().spanId; // no call id in the convention: the span's id
        for (const e of mine) expect((e.metadata as { tool_call_id: string }).tool_call_id).toBe(callId);
        expect(mine[0]!.metadata).toMatchObject({ args: { inputs: { path: '/tmp/x' } } });
        expect(mine[1]!.metadata).toMatchObject({ decision });
        expect(mine[2]!.metadata).toMatchObject({ status: 'success', result: { ok: true } });
        expect(mine[0]!.span_id).toBe(span.spanContext().spanId);
      }
      expect(ofType(events, 'run.end')[0]!.metadata.summary.tool_calls).toEqual({
        total: 2,
        allowed: 1,
        denied: 1,
        error: 0,
        retried: 0,
      });
    },
  );

  it('counts toward the run budget, including a name that arrived late', async () => {
    h = createHarness({ alm: { policy: { maxToolCallsPerRun: 1 } } });
    const own = h.alm.tool('own', () => 'ran');
    await h.alm.run(async () => {
      foreignCall(h, shape, 'search', { when: 'later' });
      expect(() => own()).toThrow('Budget exceeded: 1/1 tool calls');
    });
    const events = await h.flushEvents();
    expect(ofType(events, 'run.end')[0]!.metadata.summary.tool_calls).toMatchObject({
      total: 2,
      allowed: 1,
      denied: 1,
    });
  });

  it('an alm tool inside it is the same call: blocked, reported once under the framework call id', async () => {
    h = createHarness({ alm: { policy: { deniedTools: ['delete_file'] } } });
    const del = h.alm.tool('delete_file', (_input: { path: string }) => 'deleted');
    const ran: unknown[] = [];
    await h.alm.run(async () => {
      for (const when of ['start', 'later'] as const) {
        foreignCall(h, shape, 'delete_file', {
          id: `call-${when}`,
          when,
          body: () => {
            try {
              ran.push(del({ path: '/tmp/x' }));
            } catch (error) {
              ran.push((error as Error).name);
            }
          },
        });
      }
    });
    expect(ran).toEqual(['ToolDeniedError', 'ToolDeniedError']);
    for (const outer of toolSpans(h)) {
      expect(outer.attributes).toMatchObject({
        'alm.tool.wrapped': true,
        'alm.policy.decision': 'deny',
        'alm.policy.violation': false, // alm blocked it
        'alm.tool.status': 'denied',
      });
    }
    const events = await h.flushEvents();
    expect(ofType(events, 'tool.request')).toHaveLength(2);
    expect(ofType(events, 'policy.decision').map((e) => e.metadata.decision)).toEqual(['deny', 'deny']);
    const responses = ofType(events, 'tool.response');
    expect(responses.map((e) => e.metadata.status)).toEqual(['denied', 'denied']);
    if (shape.callId) {
      expect(responses.map((e) => e.metadata.tool_call_id)).toEqual(['call-start', 'call-later']);
      const inner = h.spans().filter((s) => s.name === 'execute_tool delete_file');
      expect(inner.map((s) => s.attributes['gen_ai.tool.call.id'])).toEqual(['call-start', 'call-later']);
    }
    expect(ofType(events, 'run.end')[0]!.metadata.summary.tool_calls).toMatchObject({
      total: 2,
      allowed: 0,
      denied: 2,
    });
  });
});

describe('a framework tool that calls another tool', () => {
  let h: Harness;
  afterEach(() => h.close());

  it('is two calls: the alm tool inside does not take over a span of another tool', async () => {
    h = createHarness({ alm: { policy: { deniedTools: ['search'] } } });
    const search = h.alm.tool('search', () => 'found');
    await h.alm.run(async () => {
      foreignCall(h, SHAPES['GenAI execute_tool']!, 'plan', { id: 'call-plan', body: () => expect(search).toThrow() });
    });
    const plan = toolSpans(h)[0]!;
    expect(plan.attributes['alm.tool.wrapped']).toBeUndefined();
    expect(plan.attributes['alm.policy.decision']).toBe('allow');
    const events = await h.flushEvents();
    const requests = ofType(events, 'tool.request');
    expect(requests.map((e) => e.metadata.tool_name)).toEqual(['search', 'plan']);
    expect(requests[0]!.metadata.tool_call_id).not.toBe('call-plan');
    expect(ofType(events, 'run.end')[0]!.metadata.summary.tool_calls).toMatchObject({
      total: 2,
      allowed: 1,
      denied: 1,
    });
  });
});

describe('late tool names', () => {
  let h: Harness;
  afterEach(() => h.close());

  it('never decides under a placeholder: execute_tool at start, a denied gen_ai.tool.name set later', async () => {
    h = createHarness({ alm: { policy: { allowedTools: ['search'] } } });
    await h.alm.run(async () => {
      h.tracer.startActiveSpan('execute_tool', { attributes: { 'gen_ai.operation.name': 'execute_tool' } }, (span) => {
        span.setAttribute('gen_ai.tool.name', 'shell');
        span.end();
      });
    });
    const span = h.span('execute_tool');
    expect(span.attributes).toMatchObject({
      'alm.policy.decision': 'deny',
      'alm.policy.reason': "Tool 'shell' is not in allowed_tools list",
      'alm.policy.violation': true,
    });
    const events = await h.flushEvents();
    expect(events.filter((e) => JSON.stringify(e).includes('unknown'))).toEqual([]);
    expect(ofType(events, 'policy.decision').map((e) => [e.metadata.tool_name, e.metadata.decision])).toEqual([
      ['shell', 'deny'],
    ]);
  });

  it('a tool span that never gets a name is not decided, and not reported', async () => {
    h = createHarness({ alm: { policy: { allowedTools: ['search'] } } });
    await h.alm.run(async () => {
      h.tracer.startActiveSpan('execute_tool', { attributes: { 'gen_ai.operation.name': 'execute_tool' } }, (s) =>
        s.end(),
      );
    });
    expect(h.span('execute_tool').attributes['alm.policy.decision']).toBeUndefined();
    const events = await h.flushEvents();
    expect(ofType(events, 'tool.request')).toEqual([]);
    expect(ofType(events, 'run.end')[0]!.metadata.summary.tool_calls.total).toBe(0);
  });

  it('is decided as soon as a child span starts, before its body finishes', async () => {
    h = createHarness({ alm: { policy: { deniedTools: ['shell'] } } });
    let decidedBeforeEnd: unknown;
    await h.alm.run(async () => {
      h.tracer.startActiveSpan('tool', { attributes: { 'traceloop.span.kind': 'tool' } }, (span) => {
        span.setAttribute('traceloop.entity.name', 'shell');
        h.tracer.startActiveSpan('GET /run', (child) => child.end());
        decidedBeforeEnd = (span as unknown as ReadableSpan).attributes['alm.policy.decision'];
        span.end();
      });
    });
    expect(decidedBeforeEnd).toBe('deny');
    expect(h.span('GET /run').attributes['alm.policy.decision']).toBeUndefined();
  });

  it('is decided on an SDK that calls no onEnding: events and summary', async () => {
    const harness = createHarness({ withAlmProcessors: false, alm: { policy: { deniedTools: ['shell'] } } });
    h = harness;
    // An SDK older than sdk-trace-base 2.3, which calls no onEnding.
    const tracer = noOnEndingTracer(harness);
    await h.alm.run(async () => {
      tracer.startActiveSpan('tool', { attributes: { 'openinference.span.kind': 'TOOL' } }, (span) => {
        span.setAttributes({ 'tool.name': 'shell', 'input.value': 'rm -rf /' });
        span.end();
      });
    });
    const events = await h.flushEvents();
    expect(ofType(events, 'policy.decision').map((e) => [e.metadata.tool_name, e.metadata.decision])).toEqual([
      ['shell', 'deny'],
    ]);
    expect(ofType(events, 'tool.request')[0]!.metadata.args).toEqual({ args: ['rm -rf /'] });
    expect(ofType(events, 'run.end')[0]!.metadata.summary.tool_calls).toMatchObject({ total: 1, denied: 1 });
  });
});

describe('framework tool spans that are never active', () => {
  let h: Harness;
  afterEach(() => h.close());

  // As OpenInference's LangChain tracer: the span starts from a callback, is never made active, and
  // gets its kind right after start and its tool name only at the end.
  function callbackSpan(tool: string, run: () => unknown): unknown {
    const span = h.tracer.startSpan(tool);
    span.setAttribute('openinference.span.kind', 'TOOL');
    let result: unknown;
    try {
      result = run();
    } catch (error) {
      result = error;
    }
    span.setAttributes({ 'tool.name': tool, 'input.value': '{"path":"/etc"}' });
    span.end();
    return result;
  }

  it('an alm tool of the same name run meanwhile is the same call: reported once, by alm', async () => {
    h = createHarness({ alm: { policy: { deniedTools: ['delete_file'] } } });
    const del = h.alm.tool('delete_file', (_input: { path: string }) => 'deleted');
    const read = h.alm.tool('read_file', (_input: { path: string }) => 'text');
    await h.alm.run(async () => {
      expect(callbackSpan('delete_file', () => del({ path: '/etc' }))).toBeInstanceOf(Error);
      // Another tool inside is not the same call.
      callbackSpan('search', () => read({ path: '/x' }));
    });
    const outer = h.spans().find((s) => s.name === 'delete_file')!;
    expect(outer.attributes).toMatchObject({
      'alm.tool.wrapped': true,
      'alm.policy.decision': 'deny',
      'alm.policy.violation': false,
      'alm.tool.status': 'denied',
    });
    expect(h.spans().find((s) => s.name === 'search')!.attributes['alm.tool.wrapped']).toBeUndefined();
    const events = await h.flushEvents();
    expect(ofType(events, 'tool.request').map((e) => e.metadata.tool_name)).toEqual([
      'delete_file',
      'read_file',
      'search',
    ]);
    expect(ofType(events, 'run.end')[0]!.metadata.summary.tool_calls).toMatchObject({
      total: 3,
      allowed: 2,
      denied: 1,
    });
  });

  it('an alm call made before the span started is not paired with it', async () => {
    h = createHarness();
    const del = h.alm.tool('delete_file', () => 'deleted');
    await h.alm.run(async () => {
      const span = h.tracer.startSpan('open');
      del(); // an open span makes alm note its calls; this one began before the tool span
      callbackSpan('delete_file', () => undefined);
      span.end();
    });
    const events = await h.flushEvents();
    expect(ofType(events, 'tool.request')).toHaveLength(2);
    expect(h.spans().find((s) => s.name === 'delete_file')!.attributes['alm.tool.wrapped']).toBeUndefined();
  });

  /** A LangChain ToolMessage as both LangChain instrumentations serialize a tool run's output. */
  const toolMessage = (name: string, id: string) => ({
    lc: 1,
    type: 'constructor',
    id: ['langchain_core', 'messages', 'ToolMessage'],
    kwargs: { status: 'success', content: 'done', tool_call_id: id, name },
  });

  it('started after the alm call began (LangChain callbacks run in the background): paired through its enclosing span', async () => {
    h = createHarness({ alm: { policy: { deniedTools: ['delete_file'] } } });
    const del = h.alm.tool('delete_file', () => 'deleted');
    await h.alm.run(async () => {
      // As LangGraph's ToolNode under OpenInference: the node's span, then the tool body, then its tool span,
      // parented by span context only (trace.setSpanContext), as OpenInference does.
      const node = h.tracer.startSpan('tools');
      expect(() => del()).toThrow('denied');
      const parent = trace.setSpanContext(context.active(), node.spanContext());
      const span = h.tracer.startSpan('delete_file', { attributes: { 'openinference.span.kind': 'TOOL' } }, parent);
      span.setStatus({ code: 2 });
      span.setAttributes({ 'tool.name': 'delete_file' });
      span.end();
      node.end();
    });
    expect(h.span('delete_file').attributes).toMatchObject({
      'alm.tool.wrapped': true,
      'alm.policy.violation': false,
      'alm.tool.status': 'denied',
    });
    const events = await h.flushEvents();
    expect(ofType(events, 'tool.request')).toHaveLength(1);
  });

  it('pairs by the call id in its ToolMessage, whatever the order the spans end in', async () => {
    h = createHarness({ alm: { policy: { maxToolCallsPerRun: 1 } } });
    const read = h.alm.langchainTool('read_file', (_input: object, _config: object) => 'text');
    await h.alm.run(async () => {
      const node = h.tracer.startSpan('tools');
      const parent = trace.setSpanContext(context.active(), node.spanContext());
      read({}, { toolCall: { id: 'call-1' } });
      expect(() => read({}, { toolCall: { id: 'call-2' } })).toThrow('denied'); // over the budget
      for (const id of ['call-2', 'call-1']) {
        const span = h.tracer.startSpan(id, { attributes: { 'openinference.span.kind': 'TOOL' } }, parent);
        span.setAttributes({
          'tool.name': 'read_file',
          'output.value': JSON.stringify({ output: toolMessage('read_file', id) }),
        });
        span.end();
      }
      node.end();
    });
    expect(h.span('call-1').attributes['alm.policy.decision']).toBe('allow');
    expect(h.span('call-2').attributes['alm.policy.decision']).toBe('deny');
    const events = await h.flushEvents();
    expect(ofType(events, 'tool.request').map((e) => e.metadata.tool_call_id)).toEqual(['call-1', 'call-2']);
  });

  it("OpenLLMetry's LangChain spans: named from their ToolMessage, never by the tool's class", async () => {
    h = createHarness({ alm: { policy: { deniedTools: ['delete_file'] } } });
    const traceloopTool = (output: unknown) => {
      const span = h.tracer.startSpan('execute_tool DynamicStructuredTool');
      span.setAttributes({
        'gen_ai.operation.name': 'execute_tool',
        'gen_ai.provider.name': 'langchain',
        'traceloop.span.kind': 'task',
        'traceloop.entity.name': 'DynamicStructuredTool',
        'traceloop.entity.input': JSON.stringify({ args: [JSON.stringify({ path: '/etc' })] }),
      });
      span.setAttribute('traceloop.entity.output', JSON.stringify(output));
      span.end();
      return span;
    };
    await h.alm.run(async () => {
      traceloopTool(toolMessage('delete_file', 'call-7'));
      traceloopTool('invoked directly: no ToolMessage, so no name');
    });
    const [named, unnamed] = h.spans().filter((s) => s.name.startsWith('execute_tool'));
    expect(named!.attributes).toMatchObject({ 'alm.policy.decision': 'deny', 'alm.policy.violation': true });
    expect(unnamed!.attributes['alm.policy.decision']).toBeUndefined();
    const events = await h.flushEvents();
    expect(
      ofType(events, 'tool.request').map((e) => [e.metadata.tool_name, e.metadata.tool_call_id, e.metadata.args]),
    ).toEqual([['delete_file', 'call-7', { inputs: { path: '/etc' } }]]);
    expect(ofType(events, 'run.end')[0]!.metadata.summary.tool_calls).toMatchObject({ total: 1, denied: 1 });
  });

  it('is decided the moment its attributes name it, on an SDK that calls no onEnding', async () => {
    h = createHarness({ withAlmProcessors: false, alm: { policy: { deniedTools: ['delete_file'] } } });
    const tracer = noOnEndingTracer(h);
    let before: unknown;
    await h.alm.run(async () => {
      const span = tracer.startSpan('delete_file');
      span.setAttribute('traceloop.span.kind', 'tool');
      span.setAttribute('traceloop.entity.name', 'delete_file');
      before = (span as unknown as ReadableSpan).attributes['alm.policy.decision'];
      span.end();
    });
    expect(before).toBe('deny');
  });

  it('leaves span objects alone where the SDK calls onEnding', async () => {
    h = createHarness();
    await h.alm.run(async () => {
      h.tracer.startSpan('first').end(); // the SDK has shown it calls onEnding
      const span = h.tracer.startSpan('second');
      expect(Object.prototype.hasOwnProperty.call(span, 'setAttribute')).toBe(false);
      span.end();
    });
  });
});

describe('alm.langchainTool', () => {
  let h: Harness;
  afterEach(() => h.close());

  it("records only the input, under the model's tool-call id from LangChain's config", async () => {
    h = createHarness({ alm: { policy: { deniedTools: ['delete_file'] } } });
    const seen: unknown[] = [];
    const read = h.alm.langchainTool('read_file', async (input: { path: string }, config: object) => {
      seen.push([input, Object.keys(config)]);
      return 'text';
    });
    const del = h.alm.langchainTool('delete_file', async (_input: { path: string }, _config: object) => 'deleted');
    const config = (id?: string) => ({
      callbacks: { handlers: [{ name: 'tracer' }] },
      toolCall: id === undefined ? undefined : { id, name: 'x', args: {} },
    });
    await h.alm.run(async () => {
      await read({ path: '/a' }, config('call-1'));
      await expect(del({ path: '/b' }, config('call-2'))).rejects.toThrow("Tool 'delete_file' denied");
      await read({ path: '/c' }, config());
    });
    expect(seen).toHaveLength(2);
    const events = await h.flushEvents();
    const requests = ofType(events, 'tool.request');
    expect(requests.map((e) => e.metadata.args)).toEqual([
      { inputs: { path: '/a' } },
      { inputs: { path: '/b' } },
      { inputs: { path: '/c' } },
    ]);
    expect(requests.slice(0, 2).map((e) => e.metadata.tool_call_id)).toEqual(['call-1', 'call-2']);
    expect(requests[2]!.metadata.tool_call_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(() => h.alm.langchainTool('x', 'no' as never)).toThrow(TypeError);
  });
});

describe('nested spans of one tool call', () => {
  let h: Harness;
  afterEach(() => h.close());

  it('a framework span and an instrumentation span inside it for the same call count once', async () => {
    h = createHarness({ alm: { policy: { deniedTools: ['shell'], maxToolCallsPerRun: 10 } } });
    await h.alm.run(async () => {
      // By call id: the AI SDK's ai.toolCall around a GenAI execute_tool span of the same call.
      foreignCall(h, SHAPES['AI SDK ai.toolCall']!, 'shell', {
        id: 'call-1',
        body: () => foreignCall(h, SHAPES['GenAI execute_tool']!, 'shell', { id: 'call-1', when: 'later' }),
      });
      // By name, when one has no call id: OpenLLMetry around OpenInference.
      foreignCall(h, SHAPES['OpenLLMetry tool']!, 'search', {
        body: () => foreignCall(h, SHAPES['OpenInference TOOL']!, 'search', { id: 'x-9' }),
      });
      // Different calls nest too: a tool that calls another tool is two calls.
      foreignCall(h, SHAPES['GenAI execute_tool']!, 'plan', {
        id: 'call-2',
        body: () => foreignCall(h, SHAPES['GenAI execute_tool']!, 'search', { id: 'call-3' }),
      });
    });
    const [innerShell, outerShell, innerSearch, outerSearch, innerOther, plan] = toolSpans(h);
    expect(outerShell!.attributes).toMatchObject({ 'alm.policy.decision': 'deny', 'alm.policy.violation': true });
    expect(innerShell!.attributes).toMatchObject({ 'alm.tool.nested': true, 'alm.policy.decision': 'deny' });
    expect(innerShell!.attributes['alm.policy.violation']).toBeUndefined();
    expect(outerSearch!.attributes['alm.tool.nested']).toBeUndefined();
    expect(innerSearch!.attributes['alm.tool.nested']).toBe(true);
    expect(innerOther!.attributes['alm.tool.nested']).toBeUndefined();
    expect(plan!.attributes['alm.tool.nested']).toBeUndefined();

    const events = await h.flushEvents();
    const requests = ofType(events, 'tool.request');
    expect(requests.map((e) => [e.metadata.tool_name, e.span_id])).toEqual([
      ['shell', outerShell!.spanContext().spanId],
      ['search', outerSearch!.spanContext().spanId],
      ['search', innerOther!.spanContext().spanId], // events are queued when a call ends
      ['plan', plan!.spanContext().spanId],
    ]);
    expect(ofType(events, 'tool.response')).toHaveLength(4);
    expect(ofType(events, 'run.end')[0]!.metadata.summary.tool_calls).toMatchObject({
      total: 4,
      allowed: 3,
      denied: 1,
    });
  });
});

describe('spans of one tool call side by side', () => {
  let h: Harness;
  afterEach(() => h.close());

  it('two integrations tracing the same call id at the same time count once; a later reuse is a new call', async () => {
    h = createHarness({ alm: { policy: { deniedTools: ['shell'] } } });
    await h.alm.run(async () => {
      const genai = h.tracer.startSpan('execute_tool shell', {
        attributes: {
          'gen_ai.operation.name': 'execute_tool',
          'gen_ai.tool.name': 'shell',
          'gen_ai.tool.call.id': 'c1',
        },
      });
      const legacy = h.tracer.startSpan('ai.toolCall', {
        attributes: { 'ai.operationId': 'ai.toolCall', 'ai.toolCall.name': 'shell', 'ai.toolCall.id': 'c1' },
      });
      legacy.end();
      genai.end();
      // A provider that numbers its calls per step reuses ids: not open any more, so another call.
      foreignCall(h, SHAPES['GenAI execute_tool']!, 'shell', { id: 'c1' });
    });
    expect(h.span('ai.toolCall').attributes).toMatchObject({ 'alm.tool.nested': true, 'alm.policy.decision': 'deny' });
    const events = await h.flushEvents();
    expect(ofType(events, 'tool.request')).toHaveLength(2);
    expect(ofType(events, 'run.end')[0]!.metadata.summary.tool_calls).toMatchObject({ total: 2, denied: 2 });
  });
});

describe('alm.aiSdkTool', () => {
  let h: Harness;
  afterEach(() => h.close());

  // The options object the AI SDK passes to execute (ai 5, 6 and 7).
  const options = (toolCallId: string) => ({
    toolCallId,
    messages: [{ role: 'user', content: 'my secret plans' }],
    abortSignal: new AbortController().signal,
  });

  it('records only the input, under the AI SDK toolCallId, and blocks a denied tool', async () => {
    h = createHarness({ alm: { policy: { deniedTools: ['delete_file'] } } });
    const seen: unknown[] = [];
    const tools = h.alm.aiSdkTools({
      read_file: {
        description: 'read',
        execute: async (input: { path: string }, opts: { toolCallId: string }) => {
          seen.push([input, opts.toolCallId]);
          return { text: 'hello' };
        },
      },
      delete_file: { description: 'delete', execute: async (_input: { path: string }, _opts: object) => 'deleted' },
      client_side: { description: 'no execute' },
    });
    expect(tools.read_file.description).toBe('read');
    expect(tools.client_side).toEqual({ description: 'no execute' });
    await h.alm.run(async () => {
      await expect(tools.read_file.execute({ path: '/a' }, options('call-1'))).resolves.toEqual({ text: 'hello' });
      await expect(tools.delete_file.execute({ path: '/b' }, options('call-2'))).rejects.toThrow(
        "Tool 'delete_file' denied",
      );
    });
    expect(seen).toEqual([[{ path: '/a' }, 'call-1']]); // the tool still gets the AI SDK's options
    const events = await h.flushEvents();
    expect(JSON.stringify(events)).not.toContain('secret plans');
    expect(ofType(events, 'tool.request').map((e) => [e.metadata.tool_call_id, e.metadata.args])).toEqual([
      ['call-1', { inputs: { path: '/a' } }],
      ['call-2', { inputs: { path: '/b' } }],
    ]);
    expect(ofType(events, 'tool.response').map((e) => [e.metadata.tool_call_id, e.metadata.status])).toEqual([
      ['call-1', 'success'],
      ['call-2', 'denied'],
    ]);
    expect(h.span('execute_tool delete_file').attributes['gen_ai.tool.call.id']).toBe('call-2');
  });

  it('rejects what is not a tool', () => {
    h = createHarness();
    expect(() => h.alm.aiSdkTool('', {})).toThrow(TypeError);
    expect(() => h.alm.aiSdkTool('x', null as never)).toThrow('expected an AI SDK tool object, got null');
    expect(() => h.alm.aiSdkTools(null as never)).toThrow(TypeError);
  });
});

describe('the processor stays out of the way', () => {
  let h: Harness;
  afterEach(() => h.close());

  it('never throws into the pipeline, whatever a span carries', async () => {
    h = createHarness({ alm: { policy: { deniedTools: ['x'] } } });
    await h.alm.run(async () => {
      for (const c of TOOL_CONVENTIONS) {
        const kind = { [c.kindKey]: c.kindValue, ...(c.alsoKey ? { [c.alsoKey]: c.alsoValue! } : {}) };
        h.tracer.startActiveSpan('odd', { attributes: { ...kind, [c.nameKey]: '' } }, (s) => s.end());
        h.tracer.startActiveSpan('odd', { attributes: { ...kind, [c.argsKey]: 'not json {' } }, (s) => {
          s.setAttributes({ [c.nameKey]: 'x', [c.resultKey]: '[1,', ...(c.callIdKey ? { [c.callIdKey]: 7 } : {}) });
          s.end();
        });
      }
    });
    expect(h.errors).toEqual([]);
    const events = await h.flushEvents();
    expect(ofType(events, 'tool.request')).toHaveLength(5);
    expect(ofType(events, 'tool.request').map((e) => [e.metadata.tool_name, e.metadata.args])).toEqual(
      Array(5).fill(['x', { args: ['not json {'] }]),
    );
    expect(ofType(events, 'tool.response').map((e) => e.metadata.result)).toEqual(Array(5).fill('[1,'));
  });
});
