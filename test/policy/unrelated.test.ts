/**
 * Spans that can never be agent calls (HTTP, database, messaging spans, by instrumentation scope or by
 * their start attributes) pass the policy SpanProcessor untracked; every other span is still decided,
 * at start or when named later.
 */
import { trace } from '@opentelemetry/api';
import { cannotBeAgentCall } from '../../src/policy/unrelated';
import { createHarness, ofType, type Harness } from '../helpers/harness';

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
