// OpenAI Agents JS (@openai/agents 0.20) with a scripted Model (no network): alm.openaiAgentsTools
// decides each function tool call before the SDK's invoke runs, under the SDK's callId, and hands a
// denial's reason to the model; alm.openaiAgentsModel stops a run at its model-call, token or cost budget
// before the provider is called. OpenInference's OpenAI Agents instrumentation runs beside it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as agents from '@openai/agents';
import { Agent, Runner, Usage, tool, withGenerationSpan } from '@openai/agents';
import { OpenAIAgentsInstrumentation } from '@arizeai/openinference-instrumentation-openai-agents';
import { BudgetExceededError } from 'alm-otel';
import { z } from 'zod';
import { assertOneCall, assertSecondModelSpanFlagged, runSummary, setup, toolCallsSummary } from './helpers.mjs';

const functionCall = (callId, name, args) => ({
  type: 'function_call',
  callId,
  name,
  arguments: JSON.stringify(args),
  status: 'completed',
});
const message = (text) => ({
  type: 'message',
  role: 'assistant',
  status: 'completed',
  content: [{ type: 'output_text', text }],
});

/**
 * A Model that answers from a script, one turn per request (the last turn repeats; or a function of the
 * request's number), records every
 * request it got, and, as the SDK's own models do, traces each request as a generation span with its
 * usage (`generationSpans: false` leaves that out).
 */
function scriptedModel(turns, { inputTokens = 10, outputTokens = 5, generationSpans = true } = {}) {
  const requests = [];
  const turn = () =>
    typeof turns === 'function' ? turns(requests.length) : turns[Math.min(requests.length - 1, turns.length - 1)];
  const usage = () => new Usage({ requests: 1, inputTokens, outputTokens, totalTokens: inputTokens + outputTokens });
  const traced = (fn) =>
    generationSpans
      ? withGenerationSpan(
          async (span) => {
            const output = await fn();
            span.spanData.usage = { input_tokens: inputTokens, output_tokens: outputTokens };
            span.spanData.output = output;
            return output;
          },
          { data: { model: 'scripted-model' } },
        )
      : fn();
  return {
    requests,
    async getResponse(request) {
      requests.push(request);
      const output = await traced(async () => turn());
      return { usage: usage(), output, responseId: `resp_${requests.length}` };
    },
    async *getStreamedResponse(request) {
      requests.push(request);
      const output = await traced(async () => turn());
      yield { type: 'response_started' };
      yield { type: 'output_text_delta', delta: '…' };
      const u = usage();
      yield {
        type: 'response_done',
        response: {
          id: `resp_${requests.length}`,
          usage: { requests: 1, inputTokens: u.inputTokens, outputTokens: u.outputTokens, totalTokens: u.totalTokens },
          output,
        },
      };
    },
  };
}

function fileTools(ran) {
  return [
    tool({
      name: 'read_file',
      description: 'Read a file',
      parameters: z.object({ path: z.string() }),
      execute: async ({ path }) => (ran.push(['read_file', path]), `contents of ${path}`),
    }),
    tool({
      name: 'delete_file',
      description: 'Delete a file',
      parameters: z.object({ path: z.string() }),
      execute: async ({ path }) => (ran.push(['delete_file', path]), `deleted ${path}`),
    }),
  ];
}

/** OpenInference's instrumentation, as its README wires it for ESM (it replaces the SDK's processors). */
function instrument(h) {
  const instrumentation = new OpenAIAgentsInstrumentation({ tracerProvider: h.provider });
  instrumentation.manuallyInstrument(agents);
  agents.setTracingDisabled(false);
  return instrumentation;
}

/** Without OpenInference: the SDK's own tracing (to OpenAI's backend) is off, as offline apps set it. */
function noTracing() {
  agents.setTracingDisabled(true);
  return { uninstrument() {} };
}

const lastInputItem = (request) => request.input.at(-1);

/** Run the agent in an alm run, streamed or not, to its end. */
function runLoop(h, agent, stream) {
  return h.alm.run(async () => {
    const result = await new Runner().run(agent, 'Loop.', { stream, maxTurns: 10 });
    if (stream) await result.completed;
    return result;
  });
}

for (const [label, tracing] of [
  ['', noTracing],
  [' (OpenInference beside it)', instrument],
]) {
  test(`OpenAI Agents${label}: a denied tool does not run, the model reads the reason, events under the SDK's callId`, async () => {
    const h = setup({ policy: { deniedTools: ['delete_file'] } });
    const instrumentation = tracing(h);
    try {
      const ran = [];
      const model = scriptedModel([
        [functionCall('call_read_1', 'read_file', { path: '/notes.txt' })],
        [functionCall('call_del_1', 'delete_file', { path: '/etc' })],
        [message('I could not delete it.')],
      ]);
      const agent = new Agent({
        name: 'files',
        instructions: 'Manage files.',
        model: h.alm.openaiAgentsModel(model, { model: 'scripted-model' }),
        tools: h.alm.openaiAgentsTools(fileTools(ran)),
      });
      const result = await h.alm.run(() => new Runner().run(agent, 'Tidy up.'));
      assert.equal(result.finalOutput, 'I could not delete it.');
      assert.deepEqual(ran, [['read_file', '/notes.txt']], 'the denied body ran 0 times');

      // The model's next input carries the denial's reason as the tool's output, under the model's call id.
      const denial = lastInputItem(model.requests[2]);
      assert.equal(denial.type, 'function_call_result');
      assert.equal(denial.callId, 'call_del_1');
      assert.equal(denial.output.text, "Tool 'delete_file' denied: Tool 'delete_file' is in denied_tools list");
      assert.equal(lastInputItem(model.requests[1]).output.text, 'contents of /notes.txt');

      const events = await h.flush();
      const [request, decision] = assertOneCall(events, {
        toolName: 'delete_file',
        callId: 'call_del_1',
        decision: 'deny',
        status: 'denied',
      });
      // The tool's input only: not the SDK's RunContext.
      assert.deepEqual(request.metadata.args, { inputs: { path: '/etc' } });
      assert.equal(decision.metadata.reason, "Tool 'delete_file' is in denied_tools list");
      const [read] = assertOneCall(events, {
        toolName: 'read_file',
        callId: 'call_read_1',
        decision: 'allow',
        status: 'success',
      });
      assert.deepEqual(read.metadata.args, { inputs: { path: '/notes.txt' } });
      assert.deepEqual(toolCallsSummary(events), { total: 2, allowed: 1, denied: 1, error: 0, retried: 0 });
      const summary = runSummary(events);
      // Three model requests, each counted once (OpenInference's LLM spans inside them are the same calls).
      assert.equal(summary.llm_calls, 3);
      assert.deepEqual(summary.tokens, { input: 30, output: 15 });
    } finally {
      instrumentation.uninstrument();
      await h.close();
    }
  });

  for (const stream of [false, true]) {
    const mode = stream ? 'streamed' : 'getResponse';
    test(`OpenAI Agents${label}, ${mode}: alm.openaiAgentsModel stops the run at its model-call budget before the provider is called`, async () => {
      const h = setup({ policy: { maxLlmCallsPerRun: 2 } });
      const instrumentation = tracing(h);
      try {
        const ran = [];
        // A model that keeps calling a tool: only the budget ends the loop.
        const model = scriptedModel((n) => [functionCall(`call_loop_${n}`, 'read_file', { path: '/a' })]);
        const agent = new Agent({
          name: 'looper',
          model: h.alm.openaiAgentsModel(model, { model: 'scripted-model' }),
          tools: h.alm.openaiAgentsTools(fileTools(ran)),
        });
        const outcome = runLoop(h, agent, stream);
        await assert.rejects(outcome, (error) => {
          assert.ok(error instanceof BudgetExceededError, `got ${error?.name}: ${error?.message}`);
          assert.equal(error.details.budget, 'llm_calls');
          return true;
        });
        assert.equal(model.requests.length, 2, 'the provider was asked twice, not a third time');
        assert.equal(ran.length, 2);
        const summary = runSummary(await h.flush());
        assert.equal(summary.llm_calls, 2);
        assert.deepEqual(summary.tokens, { input: 20, output: 10 });
      } finally {
        instrumentation.uninstrument();
        await h.close();
      }
    });

    test(`OpenAI Agents${label}, ${mode}: token and cost budgets count each response's usage once`, async () => {
      for (const policy of [
        { maxTokensPerRun: 40 },
        { maxCostPerRun: 0.0005, prices: { 'scripted-model': { inputPerMillion: 10, outputPerMillion: 20 } } },
      ]) {
        const h = setup({ policy });
        const instrumentation = tracing(h);
        try {
          // 15 tokens ($0.0002) a request: the third finds 30 ($0.0004) spent, under the limits; the fourth
          // finds 45 ($0.0006) and is refused.
          const model = scriptedModel((n) => [functionCall(`call_loop_${n}`, 'read_file', { path: '/a' })]);
          const agent = new Agent({
            name: 'looper',
            model: h.alm.openaiAgentsModel(model, { model: 'scripted-model' }),
            tools: h.alm.openaiAgentsTools(fileTools([])),
          });
          const outcome = runLoop(h, agent, stream);
          await assert.rejects(outcome, BudgetExceededError);
          assert.equal(model.requests.length, 3, JSON.stringify(policy));
          const summary = runSummary(await h.flush());
          assert.equal(summary.llm_calls, 3);
          assert.deepEqual(summary.tokens, { input: 30, output: 15 });
        } finally {
          instrumentation.uninstrument();
          await h.close();
        }
      }
    });
  }
}

test('OpenAI Agents, streamed: the model call span covers the stream, with its usage and response id', async () => {
  const h = setup();
  const instrumentation = noTracing();
  try {
    const model = scriptedModel([[message('hello')]], { generationSpans: false });
    const agent = new Agent({ name: 'greeter', model: h.alm.openaiAgentsModel(model, { model: 'scripted-model' }) });
    await h.alm.run(async () => {
      const result = await new Runner().run(agent, 'Hi.', { stream: true });
      await result.completed;
    });
    const span = h.spans().find((s) => s.name === 'chat scripted-model');
    assert.ok(span, 'one alm model-call span');
    assert.equal(span.attributes['gen_ai.usage.input_tokens'], 10);
    assert.equal(span.attributes['gen_ai.usage.output_tokens'], 5);
    assert.equal(span.attributes['gen_ai.response.id'], 'resp_1');
    assert.equal(span.attributes['gen_ai.provider.name'], 'openai');
  } finally {
    instrumentation.uninstrument();
    await h.close();
  }
});

test('Seam 2: OpenInference model spans that start after the budget is reached are flagged (attributes set after start)', async () => {
  const h = setup({ policy: { maxLlmCallsPerRun: 1 } });
  const instrumentation = instrument(h);
  try {
    // No alm model wrapper: only the OpenTelemetry pipeline sees the model calls, and cannot stop them.
    const model = scriptedModel([
      [functionCall('call_read_1', 'read_file', { path: '/notes.txt' })],
      [message('done')],
    ]);
    const agent = new Agent({ name: 'files', model, tools: fileTools([]) });
    await h.alm.run(() => new Runner().run(agent, 'Read my notes.'));
    assert.equal(model.requests.length, 2);
    await assertSecondModelSpanFlagged(h);
  } finally {
    instrumentation.uninstrument();
    await h.close();
  }
});
