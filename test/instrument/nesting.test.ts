/** Spans nest under whatever is active, across await and timers; concurrent runs never share state. */
import { SpanKind } from '@opentelemetry/api';
import { ToolDeniedError } from '../../src';
import { createHarness, ofType, sleep, type Harness } from '../helpers/harness';

describe('span nesting', () => {
  let h: Harness;
  afterEach(() => h.close());

  it('nests run → task → tool under the active span, and the handoff under the task it happens in', async () => {
    h = createHarness({ alm: { agentVersion: '1.0.0', policyVersion: '2.0.0' } });
    const search = h.alm.tool('search', async ({ query }: { query: string }) => `results for ${query}`);
    const answer = await h.tracer.startActiveSpan('POST /ask', async (request) => {
      const result = await h.alm.run({ purpose: 'Answer a question' }, (run) =>
        h.alm.task({ type: 'research', description: 'look it up' }, async () => {
          await sleep(1);
          const found = await search({ query: 'otel' });
          h.alm.handoff({ toAgentId: 'writer', reason: 'needs prose', context: { topic: 'otel' } });
          return `${found} (${run.runId})`;
        }),
      );
      request.end();
      return result;
    });
    expect(answer).toMatch(/^results for otel \(/);

    const request = h.span('POST /ask');
    const run = h.span('invoke_agent test-agent');
    const task = h.span('task research');
    const tool = h.span('execute_tool search');
    const handoff = h.span('handoff writer');
    expect(run.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    expect(task.parentSpanContext?.spanId).toBe(run.spanContext().spanId);
    expect(tool.parentSpanContext?.spanId).toBe(task.spanContext().spanId);
    expect(handoff.parentSpanContext?.spanId).toBe(task.spanContext().spanId);
    for (const span of [run, task, tool, handoff]) {
      expect(span.spanContext().traceId).toBe(request.spanContext().traceId);
      expect(span.kind).toBe(SpanKind.INTERNAL);
    }

    const runId = run.attributes['alm.run.id'];
    expect(run.attributes).toMatchObject({
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.agent.id': 'test-agent',
      'gen_ai.agent.name': 'test-agent',
      'gen_ai.agent.version': '1.0.0',
      'alm.env': 'development',
      'alm.policy.version': '2.0.0',
      'alm.run.purpose': 'Answer a question',
      'alm.run.success': true,
      'alm.run.tool_calls.total': 1,
      'alm.run.tool_calls.allowed': 1,
      'alm.run.tasks.completed': 1,
      'alm.run.handoffs': 1,
    });
    expect(task.attributes).toMatchObject({
      'alm.run.id': runId,
      'alm.task.type': 'research',
      'alm.task.description': 'look it up',
      'alm.task.success': true,
    });
    expect(tool.attributes).toMatchObject({
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'search',
      'gen_ai.tool.type': 'function',
      'alm.run.id': runId,
      'alm.policy.decision': 'allow',
      'alm.tool.status': 'success',
    });
    // Content is opt-in on spans (captureToolContent), as the GenAI conventions make it.
    expect(tool.attributes['gen_ai.tool.call.arguments']).toBeUndefined();
    expect(handoff.attributes).toMatchObject({
      'alm.handoff.to_agent_id': 'writer',
      'alm.handoff.reason': 'needs prose',
      'alm.handoff.context': '{"topic":"otel"}',
    });

    // Each event names the span it describes.
    const events = await h.flushEvents();
    const toolEvents = events.filter((e) => 'tool_call_id' in e.metadata);
    expect(toolEvents.map((e) => e.event_type)).toEqual(['tool.request', 'policy.decision', 'tool.response']);
    for (const e of toolEvents) {
      expect([e.trace_id, e.span_id]).toEqual([tool.spanContext().traceId, tool.spanContext().spanId]);
      expect(e.metadata).toMatchObject({ tool_call_id: tool.attributes['gen_ai.tool.call.id'] });
    }
    expect(ofType(events, 'run.start')[0]!.span_id).toBe(run.spanContext().spanId);
  });

  it('puts tool content on spans when captureToolContent is on', async () => {
    h = createHarness({ alm: { captureToolContent: true } });
    const search = h.alm.tool('search', ({ query }: { query: string; apiKey: string }) => ({ hits: [query] }));
    h.alm.run(() => search({ query: 'otel', apiKey: 'sk-secret' }));
    expect(h.span('execute_tool search').attributes).toMatchObject({
      'gen_ai.tool.call.arguments': '{"query":"otel","apiKey":"***REDACTED***"}',
      'gen_ai.tool.call.result': '{"hits":["otel"]}',
    });
  });

  it('keeps parents across await, timers and callbacks', async () => {
    h = createHarness();
    const step = h.alm.tool('step', (n: number) => n);
    await h.alm.run(async () => {
      await h.alm.task({ type: 'timers' }, async () => {
        await sleep(2);
        step(1);
        await new Promise<void>((resolve) =>
          setTimeout(() => {
            step(2);
            resolve();
          }, 2),
        );
        await new Promise<void>((resolve) => setImmediate(() => resolve(void step(3))));
        await Promise.resolve().then(() => step(4));
      });
    });
    const task = h.span('task timers');
    const steps = h.spans().filter((s) => s.name === 'execute_tool step');
    expect(steps).toHaveLength(4);
    for (const s of steps) expect(s.parentSpanContext?.spanId).toBe(task.spanContext().spanId);
  });

  it('a user span inside a run sits between the run and the tool', async () => {
    h = createHarness();
    const step = h.alm.tool('step', () => 'ok');
    h.alm.run(() =>
      h.tracer.startActiveSpan('llm call', (span) => {
        step();
        span.end();
      }),
    );
    expect(h.span('execute_tool step').parentSpanContext?.spanId).toBe(h.span('llm call').spanContext().spanId);
  });
});

describe('concurrency', () => {
  let h: Harness;
  afterEach(() => h.close());

  it('ten parallel calls under a budget of 3 let exactly 3 through', async () => {
    h = createHarness({ alm: { policy: { maxToolCallsPerRun: 3 } } });
    let bodies = 0;
    const slow = h.alm.tool('slow', async (i: number) => {
      bodies++;
      await sleep(5);
      return i;
    });
    const outcomes = await h.alm.run(() => Promise.allSettled(Array.from({ length: 10 }, (_, i) => slow(i))));
    expect(bodies).toBe(3);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(3);
    const rejected = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(rejected).toHaveLength(7);
    for (const r of rejected) expect(r.reason).toBeInstanceOf(ToolDeniedError);
    const events = await h.flushEvents();
    expect(ofType(events, 'tool.response').filter((e) => e.metadata.status === 'success')).toHaveLength(3);
    expect(ofType(events, 'run.end')[0]!.metadata.summary.tool_calls).toMatchObject({
      total: 10,
      allowed: 3,
      denied: 7,
    });
  });

  it('concurrent runs never share a budget or a run id', async () => {
    h = createHarness({ alm: { policy: { maxToolCallsPerRun: 2 } } });
    const work = h.alm.tool('work', async (run: number) => {
      await sleep(Math.random() * 5);
      return run;
    });
    const runIds = await Promise.all(
      Array.from({ length: 8 }, (_, n) =>
        h.alm.run(async (run) => {
          const results = await Promise.allSettled([work(n), work(n), work(n)]);
          expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'fulfilled', 'rejected']);
          expect(h.alm.currentRunId()).toBe(run.runId);
          return run.runId;
        }),
      ),
    );
    expect(new Set(runIds).size).toBe(8);
    const events = await h.flushEvents();
    for (const runId of runIds) {
      const own = events.filter((e) => e.run_id === runId);
      expect(ofType(own, 'tool.request')).toHaveLength(3);
      expect(
        ofType(own, 'tool.response')
          .map((e) => e.metadata.status)
          .sort(),
      ).toEqual(['denied', 'success', 'success']);
      // Every tool span of the run carries its run id and sits in its trace.
      const runSpan = h.spans().find((s) => s.attributes['alm.run.id'] === runId && s.name.startsWith('invoke_agent'))!;
      const toolSpans = h.spans().filter((s) => s.name === 'execute_tool work' && s.attributes['alm.run.id'] === runId);
      expect(toolSpans).toHaveLength(3);
      for (const s of toolSpans) expect(s.parentSpanContext?.spanId).toBe(runSpan.spanContext().spanId);
    }
  });

  it('a nested run has its own id and budget, and its calls count toward the parent budget too', async () => {
    h = createHarness({ alm: { policy: { maxToolCallsPerRun: 2 } } });
    const t = h.alm.tool('t', () => 'ok');
    let innerId = '';
    await h.alm.run(async (outer) => {
      t();
      await h.alm.run((inner) => {
        innerId = inner.runId;
        expect(inner.runId).not.toBe(outer.runId);
        expect(t()).toBe('ok'); // the inner run's first call, the outer's second
        // The inner run has room left, the outer does not: a sub-agent cannot escape its parent's limit.
        let denied: unknown;
        try {
          t();
        } catch (error) {
          denied = error;
        }
        expect(denied).toBeInstanceOf(ToolDeniedError);
        expect((denied as ToolDeniedError).details).toEqual({
          budget: 'tool_calls',
          limit: 2,
          spent: 2,
          attempted: 1,
          remaining: 0,
        });
      });
      expect(() => t()).toThrow(ToolDeniedError);
    });
    const events = await h.flushEvents();
    const starts = events.filter((e) => e.event_type === 'run.start');
    expect(starts.map((e) => e.metadata)).toEqual([{}, { parent_run_id: starts[0]!.run_id }]);
    expect(starts[1]!.run_id).toBe(innerId);
  });
});
