// OpenLLMetry: @traceloop/node-server-sdk's withTool, with its exporter pointed at an in-memory
// exporter and alm-otel's processor given as its extra processor. Its NodeSDK brings
// sdk-trace-base 2.0 (no onEnding), and it names its tool span just after the span starts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import * as traceloop from '@traceloop/node-server-sdk';
import { assertOneCall, setup, toolCallsSummary } from './helpers.mjs';

// One Traceloop SDK per process (it registers the global provider); one ALM per test.
const exporter = new InMemorySpanExporter();
let current;
const processor = {
  onStart: (span, ctx) => current?.alm.spanProcessors[0].onStart(span, ctx),
  onEnd: (span) => current?.alm.spanProcessors[0].onEnd(span),
  forceFlush: async () => {},
  shutdown: async () => {},
};
traceloop.initialize({
  appName: 'alm-otel-frameworks-test',
  apiKey: 'not-used',
  baseUrl: 'http://127.0.0.1:9',
  exporter,
  processor,
  disableBatch: true,
  silenceInitializationMessage: true,
  traceloopSyncEnabled: false,
  instrumentModules: {},
});

function start(policy) {
  exporter.reset();
  // No provider of our own: Traceloop's NodeSDK is the application's provider here.
  current = setup({ policy, provider: false });
  return current;
}

const toolSpan = (name) => exporter.getFinishedSpans().find((s) => s.attributes['traceloop.entity.name'] === name);

test('OpenLLMetry withTool: a denied tool is decided deny, flagged, reported once', async () => {
  const h = start({ deniedTools: ['delete_file'] });
  try {
    const ran = [];
    await h.alm.run(async () => {
      await traceloop.withTool({ name: 'read_file' }, async ({ path }) => (ran.push(path), 'text'), {
        path: '/notes.txt',
      });
      await traceloop.withTool({ name: 'delete_file' }, async ({ path }) => (ran.push(path), 'deleted'), {
        path: '/etc',
      });
    });
    await traceloop.forceFlush(); // its span processor exports once the resource is ready
    assert.deepEqual(ran, ['/notes.txt', '/etc']);
    const span = toolSpan('delete_file');
    assert.equal(span.attributes['traceloop.span.kind'], 'tool');
    assert.equal(span.attributes['alm.policy.decision'], 'deny');
    assert.equal(span.attributes['alm.policy.violation'], true);
    const events = await h.flush();
    // OpenLLMetry has no call id: the span id stands for it.
    const [request] = assertOneCall(events, {
      toolName: 'delete_file',
      callId: span.spanContext().spanId,
      decision: 'deny',
      status: 'success',
    });
    assert.deepEqual(request.metadata.args, { inputs: { path: '/etc' } });
    assertOneCall(events, {
      toolName: 'read_file',
      callId: toolSpan('read_file').spanContext().spanId,
      decision: 'allow',
      status: 'success',
    });
    assert.deepEqual(toolCallsSummary(events), { total: 2, allowed: 1, denied: 1, error: 0, retried: 0 });
  } finally {
    await h.close();
  }
});

test('OpenLLMetry withTool: an alm tool inside it is blocked, reported once, outer span not a violation', async () => {
  const h = start({ deniedTools: ['delete_file'] });
  try {
    const ran = [];
    const del = h.alm.tool('delete_file', async ({ path }) => (ran.push(path), 'deleted'));
    await h.alm.run(async () => {
      // withTool never ends its span when the function rejects; alm's events do not depend on it.
      await assert.rejects(traceloop.withTool({ name: 'delete_file' }, del, { path: '/etc' }), {
        name: 'ToolDeniedError',
      });
    });
    assert.deepEqual(ran, []);
    await traceloop.forceFlush();
    const events = await h.flush();
    const inner = exporter.getFinishedSpans().find((s) => s.name === 'execute_tool delete_file');
    const [request] = assertOneCall(events, {
      toolName: 'delete_file',
      callId: inner.attributes['gen_ai.tool.call.id'],
      decision: 'deny',
      status: 'denied',
    });
    assert.deepEqual(request.metadata.args, { inputs: { path: '/etc' } });
    assert.equal(events.filter((e) => e.event_type === 'tool.request').length, 1);
    assert.deepEqual(toolCallsSummary(events), { total: 1, allowed: 0, denied: 1, error: 0, retried: 0 });
  } finally {
    await h.close();
  }
});

test('OpenLLMetry withTool: a wrapped allowed tool that succeeds is one call, and its span says so', async () => {
  const h = start({ deniedTools: ['delete_file'] });
  try {
    const read = h.alm.tool('read_file', async ({ path }) => `contents of ${path}`);
    await h.alm.run(() => traceloop.withTool({ name: 'read_file' }, read, { path: '/notes.txt' }));
    await traceloop.forceFlush();
    const outer = toolSpan('read_file');
    assert.equal(outer.attributes['alm.tool.wrapped'], true);
    assert.equal(outer.attributes['alm.policy.decision'], 'allow');
    assert.equal(outer.attributes['alm.policy.violation'], false);
    const events = await h.flush();
    assert.equal(events.filter((e) => e.event_type === 'tool.request').length, 1);
    assert.deepEqual(toolCallsSummary(events), { total: 1, allowed: 1, denied: 0, error: 0, retried: 0 });
  } finally {
    await h.close();
  }
});
