// OpenLLMetry's own LangChain instrumentation (@traceloop/instrumentation-langchain 0.27) tracing a
// LangGraph ReAct agent with a scripted FakeListChatModel. Its tool spans carry no gen_ai.tool.name,
// and traceloop.entity.name is the tool's class ("DynamicStructuredTool"): the tool's name and the
// model's call id come from the ToolMessage the span ends with. A processor cannot stop those calls;
// alm.langchainTool can.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tool } from '@langchain/core/tools';
import { createReactAgent } from '@langchain/langgraph/prebuilt';
import { LangChainInstrumentation } from '@traceloop/instrumentation-langchain';
import { z } from 'zod';
import { assertOneCall, setup, toolCallsSummary } from './helpers.mjs';
import { done, ScriptedChatModel, toolCalls } from './scripted-langchain.mjs';

// It patches LangChain's CallbackManager when constructed (ESM asynchronously), once per process.
const instrumentation = new LangChainInstrumentation();
await new Promise((resolve) => setTimeout(resolve, 50));

function agent(ran, wrap) {
  const schema = z.object({ path: z.string() });
  const tools = ['read_file', 'delete_file'].map((name) =>
    tool(
      wrap(name, async ({ path }) => (ran.push(name), `${name} ${path}`)),
      { name, description: name, schema },
    ),
  );
  const model = new ScriptedChatModel([
    toolCalls(['read_file', { path: '/a' }, 'call-1'], ['delete_file', { path: '/etc' }, 'call-2']),
    done(),
  ]);
  return createReactAgent({ llm: model, tools });
}

const ask = { messages: [{ role: 'user', content: 'tidy up' }] };
const traceloopToolSpans = (h) => h.spans().filter((s) => s.attributes['traceloop.span.kind'] === 'task');

test('OpenLLMetry LangChain: a denied tool the agent ran is decided deny, flagged and counted', async () => {
  const h = setup({ policy: { deniedTools: ['delete_file'] } });
  instrumentation.setTracerProvider(h.provider);
  try {
    const ran = [];
    await h.alm.run(() => agent(ran, (_name, fn) => fn).invoke(ask));
    assert.deepEqual(ran.sort(), ['delete_file', 'read_file'], 'a processor cannot stop a started call');
    const spans = traceloopToolSpans(h);
    assert.equal(spans.length, 2);
    for (const span of spans) assert.equal(span.attributes['traceloop.entity.name'], 'DynamicStructuredTool');
    const del = spans.find((s) => s.attributes['alm.policy.decision'] === 'deny');
    assert.equal(del.attributes['alm.policy.reason'], "Tool 'delete_file' is in denied_tools list");
    assert.equal(del.attributes['alm.policy.violation'], true);
    const events = await h.flush();
    const [request] = assertOneCall(events, {
      toolName: 'delete_file',
      callId: 'call-2',
      decision: 'deny',
      status: 'success',
    });
    assert.deepEqual(request.metadata.args, { inputs: { path: '/etc' } });
    assertOneCall(events, { toolName: 'read_file', callId: 'call-1', decision: 'allow', status: 'success' });
    assert.deepEqual(toolCallsSummary(events), { total: 2, allowed: 1, denied: 1, error: 0, retried: 0 });
  } finally {
    await h.close();
  }
});

test('OpenLLMetry LangChain + alm.langchainTool: the denied body never runs, each call reported once', async () => {
  const h = setup({ policy: { deniedTools: ['delete_file'] } });
  instrumentation.setTracerProvider(h.provider);
  try {
    const ran = [];
    await h.alm.run(() => agent(ran, (name, fn) => h.alm.langchainTool(name, fn)).invoke(ask));
    assert.deepEqual(ran, ['read_file']);
    const read = traceloopToolSpans(h).find((s) => s.attributes['alm.tool.wrapped'] === true);
    assert.equal(read.attributes['alm.policy.violation'], false);
    const events = await h.flush();
    assertOneCall(events, { toolName: 'read_file', callId: 'call-1', decision: 'allow', status: 'success' });
    assertOneCall(events, { toolName: 'delete_file', callId: 'call-2', decision: 'deny', status: 'denied' });
    assert.equal(events.filter((e) => e.event_type === 'tool.request').length, 2, 'each call reported once');
    assert.deepEqual(toolCallsSummary(events), { total: 2, allowed: 1, denied: 1, error: 0, retried: 0 });
  } finally {
    await h.close();
  }
});
