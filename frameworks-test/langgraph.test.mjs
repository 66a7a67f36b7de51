// LangGraph's prebuilt ReAct agent (@langchain/langgraph 1.7 createReactAgent) with a scripted
// FakeListChatModel, traced by OpenInference's LangChain instrumentation, tools wrapped with
// alm.langchainTool. The model asks for three tools in one turn: the ToolNode runs them in parallel, and
// LangChain starts the tracer's spans from background callbacks, some after the tool body began.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LangChainInstrumentation } from '@arizeai/openinference-instrumentation-langchain';
import * as CallbackManagerModule from '@langchain/core/callbacks/manager';
import { tool } from '@langchain/core/tools';
import { createReactAgent } from '@langchain/langgraph/prebuilt';
import { z } from 'zod';
import { assertOneCall, setup, toolCallsSummary } from './helpers.mjs';
import { done, ScriptedChatModel, toolCalls } from './scripted-langchain.mjs';

function agentWith(h, ran) {
  const schema = z.object({ path: z.string() });
  const body =
    (name) =>
    async ({ path }) => (ran.push([name, path]), `${name} ${path}`);
  const tools = ['read_file', 'delete_file'].map((name) =>
    tool(h.alm.langchainTool(name, body(name)), { name, description: name, schema }),
  );
  const model = new ScriptedChatModel([
    toolCalls(
      ['read_file', { path: '/a' }, 'call-1'],
      ['read_file', { path: '/b' }, 'call-2'],
      ['delete_file', { path: '/etc' }, 'call-3'],
    ),
    done(),
  ]);
  return createReactAgent({ llm: model, tools });
}

test('LangGraph createReactAgent + OpenInference + alm.langchainTool: parallel calls reported once each, denied one blocked', async () => {
  const h = setup({ policy: { deniedTools: ['delete_file'] } });
  const instrumentation = new LangChainInstrumentation({ tracerProvider: h.provider });
  instrumentation.manuallyInstrument(CallbackManagerModule);
  try {
    const ran = [];
    const out = await h.alm.run(() => agentWith(h, ran).invoke({ messages: [{ role: 'user', content: 'tidy up' }] }));
    assert.deepEqual(ran.sort(), [
      ['read_file', '/a'],
      ['read_file', '/b'],
    ]);
    // The model sees the policy's reason as the tool's error.
    const denial = out.messages.find((m) => m.getType() === 'tool' && m.tool_call_id === 'call-3');
    assert.match(String(denial.content), /Tool 'delete_file' is in denied_tools list/);

    const toolSpans = h.spans().filter((s) => s.attributes['openinference.span.kind'] === 'TOOL');
    assert.equal(toolSpans.length, 3);
    for (const span of toolSpans) {
      assert.equal(span.attributes['alm.tool.wrapped'], true, `${span.attributes['tool.name']} paired with alm's call`);
      assert.equal(span.attributes['alm.policy.violation'], false, 'alm blocked it: not a violation');
    }
    const events = await h.flush();
    assertOneCall(events, { toolName: 'read_file', callId: 'call-1', decision: 'allow', status: 'success' });
    assertOneCall(events, { toolName: 'read_file', callId: 'call-2', decision: 'allow', status: 'success' });
    assertOneCall(events, { toolName: 'delete_file', callId: 'call-3', decision: 'deny', status: 'denied' });
    assert.equal(events.filter((e) => e.event_type === 'tool.request').length, 3, 'each call reported once');
    assert.deepEqual(toolCallsSummary(events), { total: 3, allowed: 2, denied: 1, error: 0, retried: 0 });
  } finally {
    instrumentation.disable();
    await h.close();
  }
});

test('LangGraph createReactAgent + OpenInference, tools not wrapped: each call decided under the model call id, the denied one flagged', async () => {
  const h = setup({ policy: { deniedTools: ['delete_file'] } });
  const instrumentation = new LangChainInstrumentation({ tracerProvider: h.provider });
  instrumentation.manuallyInstrument(CallbackManagerModule);
  try {
    const ran = [];
    const schema = z.object({ path: z.string() });
    const tools = ['read_file', 'delete_file'].map((name) =>
      tool(async ({ path }) => (ran.push(name), `${name} ${path}`), { name, description: name, schema }),
    );
    const model = new ScriptedChatModel([
      toolCalls(['read_file', { path: '/a' }, 'call-1'], ['delete_file', { path: '/etc' }, 'call-3']),
      done(),
    ]);
    const agent = createReactAgent({ llm: model, tools });
    await h.alm.run(() => agent.invoke({ messages: [{ role: 'user', content: 'tidy up' }] }));
    assert.deepEqual(ran.sort(), ['delete_file', 'read_file'], 'a processor cannot stop a started call');
    const del = h.spans().find((s) => s.attributes['tool.name'] === 'delete_file');
    assert.equal(del.attributes['alm.policy.decision'], 'deny');
    assert.equal(del.attributes['alm.policy.violation'], true);
    const events = await h.flush();
    assertOneCall(events, { toolName: 'read_file', callId: 'call-1', decision: 'allow', status: 'success' });
    assertOneCall(events, { toolName: 'delete_file', callId: 'call-3', decision: 'deny', status: 'success' });
    assert.deepEqual(toolCallsSummary(events), { total: 2, allowed: 1, denied: 1, error: 0, retried: 0 });
  } finally {
    instrumentation.disable();
    await h.close();
  }
});
