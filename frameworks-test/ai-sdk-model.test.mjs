// alm.aiSdkModel on AI SDK 5, 6 and 7 (mock models from each version's `/test`, no network), with the
// AI SDK's own telemetry off and on: a tool-calling agent under maxCostPerRun stops at the first model
// call after spend reaches the limit (the provider is not called again), each call's usage counts
// once, generate and stream. On AI SDK 7: alm.aiSdkToolApproval denies an unwrapped tool before it
// runs, and (seam 1) with LegacyOpenTelemetry the step's usage counts before the step's tools run.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LegacyOpenTelemetry, OpenTelemetry } from '@ai-sdk/otel';
import * as ai7 from 'ai';
import * as test7 from 'ai/test';
import * as ai5 from 'ai5';
import * as test5 from 'ai5/test';
import * as ai6 from 'ai6';
import * as test6 from 'ai6/test';
import { BudgetExceededError } from 'alm-otel';
import { z } from 'zod';
import { assertOneCall, setup } from './helpers.mjs';

// Each call: 10 input tokens (6 of them cache reads) and 5 output tokens (3 of them reasoning).
// Priced per input token only: $0.004 a call. Under $0.01, calls 1-3 run (the third crosses), the fourth is refused.
const PRICES = { 'mock-model-id': { inputPerMillion: 400, outputPerMillion: 0 } };
const CALL_COST = 0.004;
const LIMIT = 0.01;

const nested = {
  usage: () => ({
    inputTokens: { total: 10, noCache: 4, cacheRead: 6, cacheWrite: undefined },
    outputTokens: { total: 5, text: 2, reasoning: 3 },
  }),
  finish: (reason) => ({ unified: reason, raw: reason }),
};
const versions = [
  {
    label: 'ai 5',
    sdk: ai5,
    MockModel: test5.MockLanguageModelV2,
    simulate: test5.simulateReadableStream,
    // v2: reasoning reported beside outputTokens, in totalTokens; cached reads inside inputTokens.
    usage: () => ({ inputTokens: 10, outputTokens: 2, totalTokens: 15, reasoningTokens: 3, cachedInputTokens: 6 }),
    finish: (reason) => reason,
    telemetry: { off: {}, 'built-in': { experimental_telemetry: { isEnabled: true } } },
  },
  {
    label: 'ai 6',
    sdk: ai6,
    MockModel: test6.MockLanguageModelV3,
    simulate: test6.simulateReadableStream,
    ...nested,
    telemetry: { off: {}, 'built-in': { experimental_telemetry: { isEnabled: true } } },
  },
  {
    label: 'ai 7',
    sdk: ai7,
    MockModel: test7.MockLanguageModelV4,
    simulate: test7.simulateReadableStream,
    ...nested,
    telemetry: {
      off: {},
      LegacyOpenTelemetry: { telemetry: { isEnabled: true }, integration: () => new LegacyOpenTelemetry() },
      OpenTelemetry: { telemetry: { isEnabled: true }, integration: () => new OpenTelemetry() },
    },
  },
];

/** AI SDK 7 keeps its telemetry integrations in a global: only the one a case names. */
function registerTelemetry(flavour) {
  globalThis.AI_SDK_TELEMETRY_INTEGRATIONS = [];
  if (flavour.integration !== undefined) ai7.registerTelemetry(flavour.integration());
}

function settings(flavour) {
  const { integration: _integration, ...options } = flavour;
  return options;
}

/** A mock model that calls `lookup` at every step, as generate results and as streams. */
function toolCallingModel(v) {
  let n = 0;
  const toolCall = () => ({ type: 'tool-call', toolCallId: `call-${++n}`, toolName: 'lookup', input: '{"q":"x"}' });
  return new v.MockModel({
    doGenerate: async () => ({
      content: [toolCall()],
      finishReason: v.finish('tool-calls'),
      usage: v.usage(),
      response: { id: `response-${n}`, modelId: 'mock-model-id-2025', timestamp: new Date(0) },
      warnings: [],
    }),
    doStream: async () => ({
      stream: v.simulate({
        chunks: [
          { type: 'stream-start', warnings: [] },
          { type: 'response-metadata', id: `response-${n + 1}`, modelId: 'mock-model-id-2025', timestamp: new Date(0) },
          toolCall(),
          { type: 'finish', finishReason: v.finish('tool-calls'), usage: v.usage() },
        ],
      }),
    }),
  });
}

function lookupTool(v, ran) {
  return v.sdk.tool({
    description: 'Look something up',
    inputSchema: z.object({ q: z.string() }),
    execute: async ({ q }) => (ran.push(q), `found ${q}`),
  });
}

function budgetError(error) {
  for (let e = error; e !== undefined && e !== null; e = e.cause) {
    if (e instanceof BudgetExceededError) return e;
    for (const inner of e.errors ?? []) if (inner instanceof BudgetExceededError) return inner;
  }
  return undefined;
}

const modes = {
  async generate(v, options) {
    await v.sdk.generateText(options);
  },
  async stream(v, options) {
    let streamError;
    const result = v.sdk.streamText({ ...options, onError: ({ error }) => void (streamError = error) });
    await result.consumeStream();
    if (streamError !== undefined) throw streamError;
  },
};

for (const v of versions) {
  for (const [telemetryLabel, flavour] of Object.entries(v.telemetry)) {
    for (const [mode, drive] of Object.entries(modes)) {
      test(`${v.label}, telemetry ${telemetryLabel}, ${mode}: the agent stops at the first model call after spend reaches maxCostPerRun`, async () => {
        const h = setup({ policy: { maxCostPerRun: LIMIT, prices: PRICES } });
        try {
          registerTelemetry(flavour);
          const mock = toolCallingModel(v);
          const ran = [];
          let thrown;
          await h.alm.run(async () => {
            try {
              await drive(v, {
                model: h.alm.aiSdkModel(mock),
                tools: { lookup: lookupTool(v, ran) },
                prompt: 'look it up',
                stopWhen: v.sdk.stepCountIs(10),
                maxRetries: 0,
                maxOutputTokens: 256,
                ...settings(flavour),
              });
            } catch (error) {
              thrown = error;
            }
          });
          const refusal = budgetError(thrown);
          assert.ok(refusal, `the agent loop ended with BudgetExceededError, got ${thrown}`);
          assert.equal(refusal.details.budget, 'cost');
          const providerCalls = mode === 'generate' ? mock.doGenerateCalls : mock.doStreamCalls;
          assert.equal(providerCalls.length, 3, 'the provider is not called after the call that crossed the limit');
          assert.equal(ran.length, 3, "each admitted step's tool ran");

          const events = await h.flush();
          const summary = events.find((e) => e.event_type === 'run.end').metadata.summary;
          assert.equal(summary.llm_calls, 3, 'each model call counted once');
          assert.deepEqual(summary.tokens, { input: 30, output: 15 }, 'cached input and reasoning output included');
          assert.ok(
            summary.cost_usd >= LIMIT && summary.cost_usd <= LIMIT + CALL_COST + 1e-9,
            `spent ${summary.cost_usd}`,
          );
          assert.ok(Math.abs(summary.cost_usd - 3 * CALL_COST) < 1e-9);

          const spans = h.spans();
          const modelSpans = spans.filter((s) => s.attributes['alm.llm.call_id'] !== undefined);
          assert.equal(modelSpans.length, 4, 'three admitted calls and the refused one');
          assert.equal(modelSpans.filter((s) => s.attributes['alm.llm.status'] === 'denied').length, 1);
          const admitted = modelSpans.filter((s) => s.attributes['alm.llm.status'] === 'success');
          for (const span of admitted) assert.equal(span.attributes['alm.llm.cost_usd'], CALL_COST);
          const almChat = spans.filter((s) => s.instrumentationScope.name === 'alm-otel' && s.name.startsWith('chat'));
          if (telemetryLabel === 'off') {
            assert.deepEqual(almChat, modelSpans, "alm's own `chat {model}` spans");
            for (const span of admitted) {
              assert.equal(span.attributes['gen_ai.usage.input_tokens'], 10);
              assert.equal(span.attributes['gen_ai.usage.output_tokens'], 5);
              assert.equal(span.attributes['gen_ai.response.model'], 'mock-model-id-2025');
            }
          } else {
            // The AI SDK's own model span carries the call: no second span for it.
            assert.deepEqual(almChat, []);
            for (const span of modelSpans) assert.notEqual(span.instrumentationScope.name, 'alm-otel');
          }
        } finally {
          await h.close();
        }
      });
    }
  }
}

/** The model calls read_file (call-1) and delete_file (call-2), then answers. */
function twoToolsModel() {
  const usage = nested.usage;
  return new test7.MockLanguageModelV4({
    doGenerate: [
      {
        content: [
          { type: 'tool-call', toolCallId: 'call-1', toolName: 'read_file', input: '{"path":"/notes.txt"}' },
          { type: 'tool-call', toolCallId: 'call-2', toolName: 'delete_file', input: '{"path":"/etc"}' },
        ],
        finishReason: nested.finish('tool-calls'),
        usage: usage(),
        warnings: [],
      },
      { content: [{ type: 'text', text: 'done' }], finishReason: nested.finish('stop'), usage: usage(), warnings: [] },
    ],
  });
}

function fileTools(ran) {
  return {
    read_file: ai7.tool({
      inputSchema: z.object({ path: z.string() }),
      execute: async ({ path }) => (ran.push(['read_file', path]), `contents of ${path}`),
    }),
    delete_file: ai7.tool({
      inputSchema: z.object({ path: z.string() }),
      execute: async ({ path }) => (ran.push(['delete_file', path]), `deleted ${path}`),
    }),
  };
}

/** One alm run of an AI SDK 7 agent whose unwrapped file tools go through alm.aiSdkToolApproval; returns the calls that ran. */
async function approvedRun(h, flavour, mock, prompt) {
  registerTelemetry(flavour);
  const ran = [];
  await h.alm.run(() =>
    ai7.generateText({
      model: h.alm.aiSdkModel(mock),
      tools: fileTools(ran),
      toolApproval: h.alm.aiSdkToolApproval,
      prompt,
      stopWhen: ai7.stepCountIs(3),
      ...settings(flavour),
    }),
  );
  return ran;
}

for (const [telemetryLabel, flavour] of Object.entries(versions[2].telemetry)) {
  if (telemetryLabel === 'off') continue;
  test(`ai 7, telemetry ${telemetryLabel}: alm.aiSdkToolApproval denies an unwrapped tool before it runs, with the policy's reason`, async () => {
    const h = setup({ policy: { deniedTools: ['delete_file'] } });
    try {
      const mock = twoToolsModel();
      const ran = await approvedRun(h, flavour, mock, 'tidy up');
      assert.deepEqual(ran, [['read_file', '/notes.txt']], 'the denied tool never ran');
      const toolMessage = mock.doGenerateCalls[1].prompt.find((m) => m.role === 'tool');
      const denied = toolMessage.content.find((p) => p.toolCallId === 'call-2');
      assert.deepEqual(denied.output, {
        type: 'execution-denied',
        reason: "Tool 'delete_file' is in denied_tools list",
      });

      const events = await h.flush();
      assertOneCall(events, { toolName: 'delete_file', callId: 'call-2', decision: 'deny', status: 'denied' });
      // The allowed call is reported once, from the AI SDK's tool span, by alm's span processor.
      assertOneCall(events, { toolName: 'read_file', callId: 'call-1', decision: 'allow', status: 'success' });
      const request = events.find((e) => e.event_type === 'tool.request' && e.metadata.tool_call_id === 'call-2');
      assert.deepEqual(request.metadata.args, { inputs: { path: '/etc' } }, 'the input only');
      const summary = events.find((e) => e.event_type === 'run.end').metadata.summary;
      assert.deepEqual(
        { total: summary.tool_calls.total, allowed: summary.tool_calls.allowed, denied: summary.tool_calls.denied },
        { total: 2, allowed: 1, denied: 1 },
      );
      assert.equal(summary.llm_calls, 2);
    } finally {
      await h.close();
    }
  });
}

/** A mock model whose first step asks for `read_file` three times at once, then answers. */
function threeReadsModel() {
  const read = (n) => ({
    type: 'tool-call',
    toolCallId: `call-${n}`,
    toolName: 'read_file',
    input: `{"path":"/${n}"}`,
  });
  return new test7.MockLanguageModelV4({
    doGenerate: [
      {
        content: [read(1), read(2), read(3)],
        finishReason: nested.finish('tool-calls'),
        usage: nested.usage(),
        warnings: [],
      },
      {
        content: [{ type: 'text', text: 'done' }],
        finishReason: nested.finish('stop'),
        usage: nested.usage(),
        warnings: [],
      },
    ],
  });
}

for (const [telemetryLabel, flavour] of Object.entries(versions[2].telemetry)) {
  test(`ai 7, telemetry ${telemetryLabel}: alm.aiSdkToolApproval holds the tool-call budget across one step's parallel calls: unwrapped, the call over it never runs`, async () => {
    const h = setup({ policy: { maxToolCallsPerRun: 2 } });
    try {
      const mock = threeReadsModel();
      const ran = await approvedRun(h, flavour, mock, 'read everything');
      assert.deepEqual(ran.map(([, path]) => path).sort(), ['/1', '/2'], 'two calls ran, the third never did');
      const toolMessage = mock.doGenerateCalls[1].prompt.find((m) => m.role === 'tool');
      const denied = toolMessage.content.find((p) => p.toolCallId === 'call-3');
      assert.deepEqual(denied.output, { type: 'execution-denied', reason: 'Budget exceeded: 2/2 tool calls' });

      const events = await h.flush();
      assertOneCall(events, { toolName: 'read_file', callId: 'call-3', decision: 'deny', status: 'denied' });
      const summary = events.find((e) => e.event_type === 'run.end').metadata.summary;
      if (telemetryLabel === 'off') {
        // Neither wrapped nor traced: the allowed calls are counted against the budget, not recorded.
        assert.equal(summary.tool_calls.total, 1);
      } else {
        // The allowed calls are reported once each, from the AI SDK's tool spans, on the slots their approval took.
        for (const callId of ['call-1', 'call-2']) {
          assertOneCall(events, { toolName: 'read_file', callId, decision: 'allow', status: 'success' });
        }
        assert.deepEqual(
          { total: summary.tool_calls.total, allowed: summary.tool_calls.allowed, denied: summary.tool_calls.denied },
          { total: 3, allowed: 2, denied: 1 },
        );
      }
    } finally {
      await h.close();
    }
  });
}

test("ai 7, LegacyOpenTelemetry (seam 1): the step's usage counts before the step's tools run, so the token budget stops the same step's tool call", async () => {
  const h = setup({ policy: { maxTokensPerRun: 12 } });
  try {
    registerTelemetry(versions[2].telemetry.LegacyOpenTelemetry);
    const ran = [];
    const mock = twoToolsModel(); // 15 tokens in its first call: over the budget
    let thrown;
    await h.alm.run(async () => {
      try {
        await ai7.generateText({
          model: h.alm.aiSdkModel(mock),
          tools: h.alm.aiSdkTools(fileTools(ran)),
          prompt: 'tidy up',
          stopWhen: ai7.stepCountIs(3),
          maxRetries: 0,
          telemetry: { isEnabled: true },
        });
      } catch (error) {
        thrown = error;
      }
    });
    assert.deepEqual(ran, [], "the step's tools were refused: its tokens had already counted");
    assert.equal(budgetError(thrown)?.details.budget, 'tokens', 'and the next model call was refused');
    assert.equal(mock.doGenerateCalls.length, 1);
    const events = await h.flush();
    const denials = events.filter((e) => e.event_type === 'policy.decision' && e.metadata.decision === 'deny');
    assert.equal(denials.length, 2);
    for (const d of denials) assert.equal(d.metadata.reason, 'Budget exceeded: 15/12 tokens');
    const summary = events.find((e) => e.event_type === 'run.end').metadata.summary;
    assert.deepEqual(summary.tokens, { input: 10, output: 5 }, 'counted once');
    assert.equal(summary.llm_calls, 1);
  } finally {
    await h.close();
  }
});
