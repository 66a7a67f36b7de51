// Mastra (@mastra/core 1.71) agents with the AI SDK's mock model (ai 5's MockLanguageModelV2, scripted),
// observed through @mastra/otel-bridge, tools wrapped with alm.mastraTool(s). No network.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Mastra } from '@mastra/core';
import { Agent } from '@mastra/core/agent';
import { createTool } from '@mastra/core/tools';
import { Observability } from '@mastra/observability';
import { OtelBridge } from '@mastra/otel-bridge';
import { MockLanguageModelV2 } from 'ai5/test';
import { z } from 'zod';
import { assertOneCall, setup, toolCallsSummary } from './helpers.mjs';

const usage = { inputTokens: 10, outputTokens: 5, totalTokens: 15 };

/** A model that asks for `calls` ([name, args, id] each) in its first step, then answers. */
export function scriptedModel(...calls) {
  const prompts = [];
  const model = new MockLanguageModelV2({
    doGenerate: async ({ prompt }) => {
      prompts.push(prompt);
      if (prompts.length === 1) {
        return {
          finishReason: 'tool-calls',
          usage,
          warnings: [],
          content: calls.map(([toolName, args, toolCallId]) => ({
            type: 'tool-call',
            toolCallId,
            toolName,
            input: JSON.stringify(args),
          })),
        };
      }
      return { finishReason: 'stop', usage, warnings: [], content: [{ type: 'text', text: 'done' }] };
    },
  });
  return { model, prompts };
}

function fileTools(ran) {
  const schema = z.object({ path: z.string() });
  const make = (id) =>
    createTool({
      id,
      description: id,
      inputSchema: schema,
      execute: async (input) => (ran.push([id, input.path]), `${id} ${input.path}`),
    });
  return { read_file: make('read_file'), delete_file: make('delete_file') };
}

function mastraAgent(model, tools, observed = true) {
  const agent = new Agent({ name: 'files', instructions: 'Tidy up.', model, tools });
  const observability = observed
    ? new Observability({ configs: { default: { serviceName: 'files', bridge: new OtelBridge() } } })
    : undefined;
  return new Mastra({ agents: { files: agent }, observability, logger: false }).getAgent('files');
}

test('Mastra + alm.mastraTools: a denied tool never runs, the model gets the reason, events use the input and Mastra’s call id', async () => {
  const h = setup({ policy: { deniedTools: ['delete_file'] } });
  try {
    const ran = [];
    const { model, prompts } = scriptedModel(
      ['read_file', { path: '/a' }, 'call-1'],
      ['delete_file', { path: '/etc' }, 'call-2'],
    );
    const agent = mastraAgent(model, h.alm.mastraTools(fileTools(ran)));
    const result = await h.alm.run(() => agent.generate('tidy up', { maxSteps: 3 }));
    assert.equal(result.text, 'done');
    assert.deepEqual(ran, [['read_file', '/a']]);
    assert.match(JSON.stringify(prompts[1]), /Tool 'delete_file' is in denied_tools list/);

    const events = await h.flush();
    const [request] = assertOneCall(events, {
      toolName: 'delete_file',
      callId: 'call-2',
      decision: 'deny',
      status: 'denied',
    });
    // Only the tool's input: not Mastra's context (its agent, memory, tracing, the messages).
    assert.deepEqual(request.metadata.args, { inputs: { path: '/etc' } });
    assertOneCall(events, { toolName: 'read_file', callId: 'call-1', decision: 'allow', status: 'success' });
    assert.ok(JSON.stringify(events).length < 8000, 'no framework context in the events');
    assert.equal(events.filter((e) => e.event_type === 'tool.request').length, 2, 'each call reported once');
    assert.deepEqual(toolCallsSummary(events), { total: 2, allowed: 1, denied: 1, error: 0, retried: 0 });
    // Mastra's own tool span is the same call: not reported again.
    const mastraToolSpans = h.spans().filter((s) => s.attributes['mastra.span.type'] === 'tool_call');
    for (const span of mastraToolSpans) assert.notEqual(span.attributes['alm.policy.violation'], true);
  } finally {
    await h.close();
  }
});

test('Mastra + alm.mastraTool without observability: the same enforcement, the call id from Mastra', async () => {
  const h = setup({ policy: { deniedTools: ['delete_file'] } });
  try {
    const ran = [];
    const tools = fileTools(ran);
    const { model } = scriptedModel(['delete_file', { path: '/etc' }, 'call-9']);
    const agent = mastraAgent(model, { delete_file: h.alm.mastraTool('delete_file', tools.delete_file) }, false);
    await h.alm.run(() => agent.generate('tidy up', { maxSteps: 3 }));
    assert.deepEqual(ran, []);
    const events = await h.flush();
    assertOneCall(events, { toolName: 'delete_file', callId: 'call-9', decision: 'deny', status: 'denied' });
  } finally {
    await h.close();
  }
});

test('Mastra with @mastra/otel-bridge: two model calls in one generate count as two, with their tokens', async () => {
  const h = setup();
  try {
    const ran = [];
    const { model, prompts } = scriptedModel(['read_file', { path: '/a' }, 'call-1']);
    const agent = mastraAgent(model, fileTools(ran)); // not wrapped: Mastra's own tool span reports it
    await h.alm.run(() => agent.generate('tidy up', { maxSteps: 3 }));
    assert.equal(prompts.length, 2);
    const events = await h.flush();
    const summary = events.find((e) => e.event_type === 'run.end').metadata.summary;
    assert.equal(summary.llm_calls, 2);
    assert.deepEqual(summary.tokens, { input: 20, output: 10 });
  } finally {
    await h.close();
  }
});

test('Mastra + alm.aiSdkModel: the token budget stops the agent within one generate, before the provider is called again', async () => {
  // 15 tokens a call: the second call passes the limit, the third is refused.
  const h = setup({ policy: { maxTokensPerRun: 20 } });
  try {
    const ran = [];
    // The model would ask for a tool at every step: only the budget stops it.
    let calls = 0;
    const provider = new MockLanguageModelV2({
      doGenerate: async () => {
        calls++;
        const input = JSON.stringify({ path: `/${calls}` });
        return {
          finishReason: 'tool-calls',
          usage,
          warnings: [],
          content: [{ type: 'tool-call', toolCallId: `call-${calls}`, toolName: 'read_file', input }],
        };
      },
    });
    const agent = mastraAgent(h.alm.aiSdkModel(provider), h.alm.mastraTools(fileTools(ran)));
    const outcome = await h.alm.run(async () => {
      try {
        return await agent.generate('read everything', { maxSteps: 10 });
      } catch (error) {
        return error;
      }
    });
    assert.equal(calls, 2, 'the provider is not called once the budget is spent');
    assert.equal(outcome.name, 'BudgetExceededError');
    assert.match(outcome.message, /20\/20 tokens|30\/20 tokens/);
    // The first step's tool ran; the second step's was refused, the token budget being spent.
    assert.deepEqual(ran, [['read_file', '/1']]);
    const events = await h.flush();
    assertOneCall(events, { toolName: 'read_file', callId: 'call-2', decision: 'deny', status: 'denied' });
    const summary = events.find((e) => e.event_type === 'run.end').metadata.summary;
    assert.equal(summary.llm_calls, 2);
    assert.deepEqual(summary.tokens, { input: 20, output: 10 });
  } finally {
    await h.close();
  }
});
