// OpenInference: @arizeai/openinference-instrumentation-langchain tracing @langchain/core tools invoked
// directly (no model, no network). Its TOOL spans get their tool name only when the run ends.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LangChainInstrumentation } from '@arizeai/openinference-instrumentation-langchain';
import * as CallbackManagerModule from '@langchain/core/callbacks/manager';
import { tool } from '@langchain/core/tools';
import { z } from 'zod';
import { assertOneCall, setup, toolCallsSummary } from './helpers.mjs';

function instrument(h) {
  const instrumentation = new LangChainInstrumentation({ tracerProvider: h.provider });
  instrumentation.manuallyInstrument(CallbackManagerModule);
  return instrumentation;
}

function langchainTools(ran, wrap = (_name, fn) => fn) {
  const schema = z.object({ path: z.string() });
  return {
    read_file: tool(
      wrap('read_file', async ({ path }) => (ran.push(['read_file', path]), `contents of ${path}`)),
      { name: 'read_file', description: 'Read a file', schema },
    ),
    delete_file: tool(
      wrap('delete_file', async ({ path }) => (ran.push(['delete_file', path]), `deleted ${path}`)),
      { name: 'delete_file', description: 'Delete a file', schema },
    ),
  };
}

const toolSpan = (h, name) => h.spans().find((s) => s.attributes['tool.name'] === name);

test('OpenInference LangChain: a denied tool is decided deny when its name arrives, flagged, reported once', async () => {
  const h = setup({ policy: { deniedTools: ['delete_file'] } });
  const instrumentation = instrument(h);
  try {
    const ran = [];
    const tools = langchainTools(ran);
    await h.alm.run(async () => {
      await tools.read_file.invoke({ path: '/notes.txt' });
      await tools.delete_file.invoke({ path: '/etc' });
    });
    assert.deepEqual(ran, [
      ['read_file', '/notes.txt'],
      ['delete_file', '/etc'],
    ]);
    const span = toolSpan(h, 'delete_file');
    assert.equal(span.attributes['openinference.span.kind'], 'TOOL');
    assert.equal(span.attributes['alm.policy.decision'], 'deny');
    assert.equal(span.attributes['alm.policy.violation'], true);
    const events = await h.flush();
    // OpenInference's LangChain spans carry no call id: the span id stands for it.
    const callId = span.spanContext().spanId;
    const [request] = assertOneCall(events, { toolName: 'delete_file', callId, decision: 'deny', status: 'success' });
    assert.deepEqual(request.metadata.args, { args: ['/etc'] }); // OpenInference records the input as text
    assertOneCall(events, {
      toolName: 'read_file',
      callId: toolSpan(h, 'read_file').spanContext().spanId,
      decision: 'allow',
      status: 'success',
    });
    assert.deepEqual(toolCallsSummary(events), { total: 2, allowed: 1, denied: 1, error: 0, retried: 0 });
  } finally {
    instrumentation.disable();
    await h.close();
  }
});

test('OpenInference LangChain: a tool invoked with a model tool call (ToolCall input) is decided too', async () => {
  const h = setup({ policy: { allowedTools: ['read_file'] } });
  const instrumentation = instrument(h);
  try {
    const ran = [];
    const tools = langchainTools(ran);
    await h.alm.run(() =>
      tools.delete_file.invoke({ name: 'delete_file', args: { path: '/etc' }, id: 'call-9', type: 'tool_call' }),
    );
    const span = toolSpan(h, 'delete_file');
    assert.equal(span.attributes['alm.policy.reason'], "Tool 'delete_file' is not in allowed_tools list");
    const events = await h.flush();
    // The span ends with the ToolMessage, which carries the model's call id.
    assertOneCall(events, {
      toolName: 'delete_file',
      callId: 'call-9',
      decision: 'deny',
      status: 'success',
    });
    assert.deepEqual(toolCallsSummary(events), { total: 1, allowed: 0, denied: 1, error: 0, retried: 0 });
  } finally {
    instrumentation.disable();
    await h.close();
  }
});

test('OpenInference LangChain: a tool function wrapped with alm.langchainTool is blocked, reported once', async () => {
  const h = setup({ policy: { deniedTools: ['delete_file'] } });
  const instrumentation = instrument(h);
  try {
    const ran = [];
    const tools = langchainTools(ran, (name, fn) => h.alm.langchainTool(name, fn));
    await h.alm.run(async () => {
      await tools.read_file.invoke({ path: '/notes.txt' });
      // As an agent executor does: the model's tool call, with its id.
      const call = { name: 'delete_file', args: { path: '/etc' }, id: 'call-7', type: 'tool_call' };
      await assert.rejects(tools.delete_file.invoke(call), { name: 'ToolDeniedError' });
    });
    assert.deepEqual(ran, [['read_file', '/notes.txt']]);
    // The framework never makes its span active: alm's tool reports the call, under the model's call id.
    const outer = toolSpan(h, 'delete_file');
    assert.equal(outer.attributes['alm.tool.wrapped'], true);
    assert.equal(outer.attributes['alm.policy.decision'], 'deny');
    assert.equal(outer.attributes['alm.policy.violation'], false, 'alm blocked it: not a violation');
    assert.equal(outer.attributes['alm.tool.status'], 'denied');
    const events = await h.flush();
    const [request] = assertOneCall(events, {
      toolName: 'delete_file',
      callId: 'call-7',
      decision: 'deny',
      status: 'denied',
    });
    assert.deepEqual(request.metadata.args, { inputs: { path: '/etc' } }); // not LangChain's config
    assert.equal(events.filter((e) => e.event_type === 'tool.request').length, 2, 'each call reported once');
    assert.deepEqual(toolCallsSummary(events), { total: 2, allowed: 1, denied: 1, error: 0, retried: 0 });
  } finally {
    instrumentation.disable();
    await h.close();
  }
});
