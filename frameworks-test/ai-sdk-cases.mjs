// The same agent step against any AI SDK version: the model calls read_file (call-1) and delete_file
// (call-2); delete_file is denied. Unwrapped, the tool runs and its span is flagged; wrapped with
// alm.aiSdkTools, it is blocked. Either way: three events per call under the AI SDK's call id, once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { ALMEventExporter, ALMEventSchema } from 'alm-otel';
import { z } from 'zod';
import { assertOneCall, setup, toolCallsSummary } from './helpers.mjs';

const SECRET_PROMPT = 'Tidy up the secret-project-x folder';

function usage() {
  return {
    inputTokens: { total: 10, noCache: 10, cacheRead: undefined, cacheWrite: undefined },
    outputTokens: { total: 5, text: 5, reasoning: undefined },
  };
}

function mockModel(MockModel) {
  return new MockModel({
    doGenerate: [
      {
        content: [
          { type: 'tool-call', toolCallId: 'call-1', toolName: 'read_file', input: '{"path":"/notes.txt"}' },
          { type: 'tool-call', toolCallId: 'call-2', toolName: 'delete_file', input: '{"path":"/etc"}' },
        ],
        finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
        usage: usage(),
        warnings: [],
      },
      {
        content: [{ type: 'text', text: 'done' }],
        finishReason: { unified: 'stop', raw: 'stop' },
        usage: usage(),
        warnings: [],
      },
    ],
  });
}

/**
 * `sdk`: { generateText, tool, stepCountIs, MockModel, telemetry (options for generateText),
 * register() (called after the provider is registered), toolSpan: (spans, name) => the AI SDK's span of
 * that tool call }.
 */
export function aiSdkCases(label, sdk) {
  function tools(ran) {
    return {
      read_file: sdk.tool({
        description: 'Read a file',
        inputSchema: z.object({ path: z.string() }),
        execute: async ({ path }) => (ran.push(['read_file', path]), `contents of ${path}`),
      }),
      delete_file: sdk.tool({
        description: 'Delete a file',
        inputSchema: z.object({ path: z.string() }),
        execute: async ({ path }) => (ran.push(['delete_file', path]), `deleted ${path}`),
      }),
    };
  }

  async function agentStep(h, toolSet) {
    sdk.register();
    return h.alm.run({ purpose: 'tidy up' }, () =>
      sdk.generateText({
        model: mockModel(sdk.MockModel),
        tools: toolSet,
        prompt: SECRET_PROMPT,
        stopWhen: sdk.stepCountIs(2),
        ...sdk.telemetry,
      }),
    );
  }

  test(`${label}: a denied tool is decided deny and flagged (not wrapped)`, async () => {
    const h = setup({ policy: { deniedTools: ['delete_file'] } });
    try {
      const ran = [];
      const result = await agentStep(h, tools(ran));
      assert.equal(result.text, 'done');
      assert.deepEqual(ran, [
        ['read_file', '/notes.txt'],
        ['delete_file', '/etc'],
      ]); // a processor cannot block
      const span = sdk.toolSpan(h.spans(), 'delete_file');
      assert.equal(span.attributes['alm.policy.decision'], 'deny');
      assert.equal(span.attributes['alm.policy.violation'], true);
      const events = await h.flush();
      assertOneCall(events, { toolName: 'read_file', callId: 'call-1', decision: 'allow', status: 'success' });
      const [request] = assertOneCall(events, {
        toolName: 'delete_file',
        callId: 'call-2',
        decision: 'deny',
        status: 'success',
      });
      assert.deepEqual(request.metadata.args, { inputs: { path: '/etc' } });
      assert.deepEqual(toolCallsSummary(events), { total: 2, allowed: 1, denied: 1, error: 0, retried: 0 });
    } finally {
      await h.close();
    }
  });

  test(`${label}: a denied tool wrapped with alm.aiSdkTools is blocked, reported once, without the conversation`, async () => {
    const h = setup({ policy: { deniedTools: ['delete_file'] } });
    try {
      const ran = [];
      const result = await agentStep(h, h.alm.aiSdkTools(tools(ran)));
      assert.equal(result.text, 'done');
      assert.deepEqual(ran, [['read_file', '/notes.txt']]); // delete_file never ran
      const outer = sdk.toolSpan(h.spans(), 'delete_file');
      assert.equal(outer.attributes['alm.tool.wrapped'], true);
      assert.equal(outer.attributes['alm.policy.decision'], 'deny');
      assert.equal(outer.attributes['alm.policy.violation'], false, 'alm blocked it: not a violation');
      const inner = h.spans().find((s) => s.name === 'execute_tool delete_file' && s !== outer);
      assert.equal(inner.attributes['gen_ai.tool.call.id'], 'call-2');
      assert.equal(inner.attributes['alm.tool.status'], 'denied');
      const events = await h.flush();
      const [request] = assertOneCall(events, {
        toolName: 'delete_file',
        callId: 'call-2',
        decision: 'deny',
        status: 'denied',
      });
      assert.deepEqual(request.metadata.args, { inputs: { path: '/etc' } });
      assertOneCall(events, { toolName: 'read_file', callId: 'call-1', decision: 'allow', status: 'success' });
      assert.ok(!JSON.stringify(events).includes('secret-project-x'), 'no messages in the events');
      assert.deepEqual(toolCallsSummary(events), { total: 2, allowed: 1, denied: 1, error: 0, retried: 0 });
    } finally {
      await h.close();
    }
  });

  test(`${label}: alm.aiSdkTools blocks with no OpenTelemetry setup at all`, async () => {
    const h = setup({ policy: { deniedTools: ['delete_file'] }, provider: false });
    try {
      const ran = [];
      await agentStep(h, h.alm.aiSdkTools(tools(ran)));
      assert.deepEqual(ran, [['read_file', '/notes.txt']]);
      const events = await h.flush();
      assertOneCall(events, { toolName: 'delete_file', callId: 'call-2', decision: 'deny', status: 'denied' });
      assert.deepEqual(toolCallsSummary(events), { total: 2, allowed: 1, denied: 1, error: 0, retried: 0 });
    } finally {
      await h.close();
    }
  });

  test(`${label}: ALMEventExporter turns the AI SDK's tool spans into the same tool events`, async () => {
    const exported = [];
    const almExporter = new ALMEventExporter({
      agentId: 'offline',
      events: { sink: (batch) => void exported.push(...batch), flushOnExit: false },
    });
    const h = setup({ almProcessors: false, extraProcessors: [new SimpleSpanProcessor({ exporter: almExporter })] });
    try {
      const ran = [];
      sdk.register();
      await sdk.generateText({
        model: mockModel(sdk.MockModel),
        tools: tools(ran),
        prompt: SECRET_PROMPT,
        stopWhen: sdk.stepCountIs(2),
        ...sdk.telemetry,
      });
      await almExporter.forceFlush();
      for (const event of exported) ALMEventSchema.parse(event);
      const requests = exported.filter((e) => e.event_type === 'tool.request');
      assert.deepEqual(
        requests.map((e) => [e.metadata.tool_name, e.metadata.tool_call_id]),
        [
          ['read_file', 'call-1'],
          ['delete_file', 'call-2'],
        ],
      );
      const responses = exported.filter((e) => e.event_type === 'tool.response');
      assert.deepEqual(
        responses.map((e) => [e.metadata.tool_call_id, e.metadata.status]),
        [
          ['call-1', 'success'],
          ['call-2', 'success'],
        ],
      );
    } finally {
      await almExporter.shutdown();
      await h.close();
    }
  });
}
