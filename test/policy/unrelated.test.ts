/**
 * Spans that can never be agent calls (HTTP, database, messaging spans, by instrumentation scope or by
 * their start attributes) pass the policy SpanProcessor untracked; every other span is still decided,
 * at start or when named later.
 */
import { trace, type Span } from '@opentelemetry/api';
import type { Runtime } from '../../src/instrument/runtime';
import type { PolicySpanProcessor } from '../../src/policy/processor';
import { cannotBeAgentCall } from '../../src/policy/unrelated';
import { createHarness, noOnEndingTracer, ofType, type Harness } from '../helpers/harness';

/** The processor and what it keeps, as the SDK sees it and by span. */
function internals(h: Harness) {
  const processor = h.alm.spanProcessors[0] as unknown as PolicySpanProcessor;
  const rt = (h.alm as unknown as { rt: Runtime }).rt;
  return {
    processor,
    tracked: () => processor.trackedSpans,
    /** Whether the processor keeps state for this span. */
    keeps: (span: Span) => rt.foreignCalls.has(span),
    /** Whether the SDK would call an onEnding hook when a span ends now. */
    endingOffered: () => typeof processor.onEnding === 'function',
  };
}

const httpAttributes = { 'http.request.method': 'GET', 'url.full': 'http://127.0.0.1:8080/items' };

describe('cannotBeAgentCall', () => {
  it('knows protocol spans by scope or start attributes, and never a span a convention marks', () => {
    expect(cannotBeAgentCall('@opentelemetry/instrumentation-http', {})).toBe(true);
    expect(cannotBeAgentCall('@opentelemetry/instrumentation-pg', { 'db.system.name': 'postgresql' })).toBe(true);
    expect(cannotBeAgentCall('my-app', { 'http.request.method': 'GET', 'url.full': 'http://x/' })).toBe(true);
    expect(cannotBeAgentCall(undefined, { 'db.system': 'redis' })).toBe(true);
    expect(cannotBeAgentCall('my-app', { 'messaging.system': 'kafka' })).toBe(true);
    // Anything else may be named a tool or model span later.
    expect(cannotBeAgentCall('my-app', {})).toBe(false);
    expect(cannotBeAgentCall(undefined, { 'server.address': 'api.openai.com' })).toBe(false);
    expect(cannotBeAgentCall('@opentelemetry/instrumentation-openai', {})).toBe(false);
    expect(cannotBeAgentCall('@traceloop/instrumentation-openai', { 'llm.request.type': 'chat' })).toBe(false);
    // A convention's mark at start wins over a protocol attribute (not over an HTTP instrumentation's scope).
    for (const mark of [
      { 'gen_ai.operation.name': 'execute_tool' },
      { 'openinference.span.kind': 'TOOL' },
      { 'traceloop.span.kind': 'tool' },
      { 'ai.operationId': 'ai.toolCall' },
      { 'llm.request.type': 'chat' },
    ]) {
      expect(cannotBeAgentCall('my-app', { 'url.full': 'http://x/', ...mark })).toBe(false);
    }
  });
});

describe('PolicySpanProcessor and unrelated spans', () => {
  let h: Harness;
  afterEach(() => h.close());

  it('leaves HTTP and database spans alone, in a run, and still decides tool spans named late', async () => {
    h = createHarness({ alm: { policy: { deniedTools: ['shell'] } } });
    const http = trace.getTracer('@opentelemetry/instrumentation-undici');
    await h.alm.run(async () => {
      http.startActiveSpan('GET', { attributes: { 'http.request.method': 'GET' } }, (span) => {
        // A tool span inside an HTTP span, named after start: decided as ever.
        h.tracer.startActiveSpan('tool', (tool) => {
          tool.setAttributes({ 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'shell' });
          tool.end();
        });
        span.end();
      });
      // Marked as an HTTP request at start: whatever is written on it later, never a tool call.
      http.startActiveSpan('POST', { attributes: { 'http.request.method': 'POST' } }, (span) => {
        span.setAttributes({ 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'http_tool' });
        span.end();
      });
      h.tracer.startActiveSpan('SELECT', { attributes: { 'db.system.name': 'postgresql' } }, (span) => span.end());
    });
    const get = h.span('GET');
    expect(Object.keys(get.attributes).filter((k) => k.startsWith('alm.'))).toEqual([]);
    expect(Object.keys(h.span('POST').attributes).filter((k) => k.startsWith('alm.'))).toEqual([]);
    expect(Object.keys(h.span('SELECT').attributes).filter((k) => k.startsWith('alm.'))).toEqual([]);
    expect(h.span('tool').attributes).toMatchObject({ 'alm.policy.decision': 'deny', 'alm.policy.violation': true });
    const events = await h.flushEvents();
    expect(ofType(events, 'tool.request').map((e) => e.metadata.tool_name)).toEqual(['shell']);
  });
});

describe('unrelated spans cost the processor nothing it keeps', () => {
  let h: Harness;
  afterEach(() => h.close());

  it('keeps no state and offers the SDK no onEnding hook for them, in and out of runs', async () => {
    h = createHarness();
    const p = internals(h);
    const undici = trace.getTracer('@opentelemetry/instrumentation-undici');
    const unknownClient = trace.getTracer('my-http-client');
    const seen: boolean[] = [];
    const spanPair = () => {
      // By scope, and (a client alm does not know) by start attributes: neither is kept.
      const a = undici.startSpan('GET', { attributes: httpAttributes });
      const b = unknownClient.startSpan('GET', { attributes: httpAttributes });
      a.setAttribute('http.response.status_code', 200);
      seen.push(p.keeps(a), p.keeps(b), p.endingOffered());
      a.end();
      b.end();
    };
    spanPair();
    spanPair(); // the scope is now passed over by identity
    await h.alm.run(async () => {
      spanPair();
      await h.alm.task({ type: 'step' }, async () => spanPair());
    });
    expect(seen.every((x) => !x)).toBe(true);
    expect(p.tracked()).toBe(0);
    expect(p.endingOffered()).toBe(false);
  });

  it('tracks any other span from start to end, with onEnding offered meanwhile', async () => {
    h = createHarness();
    const p = internals(h);
    const undici = trace.getTracer('@opentelemetry/instrumentation-undici');
    undici.startSpan('GET', { attributes: httpAttributes }).end(); // its scope remembered as unrelated
    await h.alm.run(async () => {
      const outer = h.tracer.startSpan('invoke_agent');
      expect(p.keeps(outer)).toBe(true);
      expect([p.tracked(), p.endingOffered()]).toEqual([1, true]);
      // An HTTP span inside it is still passed over, and leaves the count alone.
      const http = undici.startSpan('GET', { attributes: httpAttributes });
      http.end();
      expect(p.keeps(http)).toBe(false);
      const inner = h.tracer.startSpan('step');
      expect(p.tracked()).toBe(2);
      inner.end();
      expect([p.tracked(), p.endingOffered()]).toEqual([1, true]);
      outer.end();
      expect([p.tracked(), p.endingOffered()]).toEqual([0, false]);
    });
  });

  it('decides a tool span named after start in onEnding, each time tracking starts again', async () => {
    h = createHarness({ alm: { policy: { deniedTools: ['shell'] } } });
    const p = internals(h);
    const seenWatched: boolean[] = [];
    const undici = trace.getTracer('@opentelemetry/instrumentation-undici');
    await h.alm.run(async () => {
      for (const name of ['first', 'second']) {
        undici.startSpan('GET', { attributes: httpAttributes }).end();
        expect(p.endingOffered()).toBe(false);
        const span = h.tracer.startSpan(name);
        expect(p.endingOffered()).toBe(true);
        // Named only now, as OpenInference's LangChain tracer names its tool spans at the end.
        span.setAttributes({ 'openinference.span.kind': 'TOOL', 'tool.name': 'shell' });
        const watched = Object.prototype.hasOwnProperty.call(span, 'setAttribute');
        span.end();
        seenWatched.push(watched);
      }
    });
    // The first span of the process was also watched (until onEnding is seen called); the second was
    // decided by onEnding alone: both carry the decision, written while they were writable.
    expect(seenWatched).toEqual([true, false]);
    for (const name of ['first', 'second']) {
      expect(h.span(name).attributes).toMatchObject({ 'alm.policy.decision': 'deny', 'alm.policy.violation': true });
    }
    const events = await h.flushEvents();
    expect(ofType(events, 'tool.request').map((e) => e.metadata.tool_name)).toEqual(['shell', 'shell']);
  });

  it('leaves unrelated spans unwatched on an SDK that calls no onEnding', async () => {
    h = createHarness({ withAlmProcessors: false });
    const p = internals(h);
    const tracer = noOnEndingTracer(h);
    await h.alm.run(async () => {
      const http = tracer.startSpan('GET', { attributes: httpAttributes });
      expect(Object.prototype.hasOwnProperty.call(http, 'setAttribute')).toBe(false);
      expect(p.keeps(http)).toBe(false);
      http.end();
    });
    expect(p.tracked()).toBe(0);
  });
});
