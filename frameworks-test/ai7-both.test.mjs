// ai 7 with both @ai-sdk/otel integrations registered: every tool call is traced twice, as an
// execute_tool span and an ai.toolCall span side by side, with the same call id. It is one call.
import { LegacyOpenTelemetry, OpenTelemetry } from '@ai-sdk/otel';
import { generateText, isStepCount, registerTelemetry, tool } from 'ai';
import { MockLanguageModelV4 } from 'ai/test';
import { aiSdkCases } from './ai-sdk-cases.mjs';

aiSdkCases('ai 7 + both @ai-sdk/otel integrations', {
  generateText,
  tool,
  stepCountIs: isStepCount,
  MockModel: MockLanguageModelV4,
  telemetry: { telemetry: { isEnabled: true } },
  register: () => {
    globalThis.AI_SDK_TELEMETRY_INTEGRATIONS = [];
    registerTelemetry(new OpenTelemetry(), new LegacyOpenTelemetry());
  },
  // The execute_tool span starts first and reports the call; the ai.toolCall span is alm.tool.nested.
  toolSpan: (spans, name) =>
    spans.find((s) => s.name === `execute_tool ${name}` && s.instrumentationScope.name !== 'alm-otel'),
});
