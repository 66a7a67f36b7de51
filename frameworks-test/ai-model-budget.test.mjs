// Model budgets enforced from the OpenTelemetry pipeline: the AI SDK's own model-call spans (a mock
// model, no network) count toward an alm run's token budget through alm's span processor, and the
// next model call through alm, or tool call, is refused. Each AI SDK telemetry flavour alm reads.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LegacyOpenTelemetry, OpenTelemetry } from '@ai-sdk/otel';
import { generateText as generateText7, registerTelemetry } from 'ai';
import { MockLanguageModelV4 } from 'ai/test';
import { generateText as generateText6 } from 'ai6';
import { MockLanguageModelV3 } from 'ai6/test';
import { BudgetExceededError, ToolDeniedError } from 'alm-otel';
import { setup } from './helpers.mjs';

function reply(MockModel, inputTokens, outputTokens) {
  return new MockModel({
    doGenerate: {
      content: [{ type: 'text', text: 'an answer' }],
      finishReason: { unified: 'stop', raw: 'stop' },
      usage: {
        inputTokens: { total: inputTokens, noCache: inputTokens, cacheRead: undefined, cacheWrite: undefined },
        outputTokens: { total: outputTokens, text: outputTokens, reasoning: undefined },
      },
      warnings: [],
    },
  });
}

const flavours = [
  {
    label: 'ai 7 + @ai-sdk/otel OpenTelemetry',
    register: () => {
      globalThis.AI_SDK_TELEMETRY_INTEGRATIONS = [];
      registerTelemetry(new OpenTelemetry());
    },
    generate: (model) => generateText7({ model, prompt: 'q', telemetry: { isEnabled: true } }),
    MockModel: MockLanguageModelV4,
  },
  {
    label: 'ai 7 + @ai-sdk/otel LegacyOpenTelemetry',
    register: () => {
      globalThis.AI_SDK_TELEMETRY_INTEGRATIONS = [];
      registerTelemetry(new LegacyOpenTelemetry());
    },
    generate: (model) => generateText7({ model, prompt: 'q', telemetry: { isEnabled: true } }),
    MockModel: MockLanguageModelV4,
  },
  {
    label: 'ai 6 built-in telemetry',
    register: () => {},
    generate: (model) => generateText6({ model, prompt: 'q', experimental_telemetry: { isEnabled: true } }),
    MockModel: MockLanguageModelV3,
  },
];

for (const flavour of flavours) {
  test(`${flavour.label}: model spans count toward the run's token budget, and the next call is refused`, async () => {
    const h = setup({ policy: { maxTokensPerRun: 100 } });
    try {
      flavour.register();
      const search = h.alm.tool('search', () => 'found');
      let llmRefusal;
      let toolRefusal;
      await h.alm.run(async () => {
        await flavour.generate(reply(flavour.MockModel, 60, 20)); // 80 tokens: under the budget
        await flavour.generate(reply(flavour.MockModel, 30, 10)); // 120: crosses it, completes
        try {
          await h.alm.llm({ provider: 'openai', model: 'gpt-4o-mini' }, async () => 'never');
        } catch (error) {
          llmRefusal = error;
        }
        try {
          search();
        } catch (error) {
          toolRefusal = error;
        }
      });
      assert.ok(llmRefusal instanceof BudgetExceededError, `refused: ${llmRefusal}`);
      assert.deepEqual(llmRefusal.details, { budget: 'tokens', limit: 100, spent: 120, attempted: 0, remaining: 0 });
      assert.ok(toolRefusal instanceof ToolDeniedError);
      assert.equal(toolRefusal.reason, 'Budget exceeded: 120/100 tokens');
      const events = await h.flush();
      const summary = events.find((e) => e.event_type === 'run.end').metadata.summary;
      assert.equal(summary.llm_calls, 2, 'each generateText call counted once');
      assert.deepEqual(summary.tokens, { input: 90, output: 30 });
    } finally {
      await h.close();
    }
  });
}
