// ai 7 with @ai-sdk/otel's OpenTelemetry integration: GenAI execute_tool spans.
import { OpenTelemetry } from '@ai-sdk/otel';
import { generateText, isStepCount, registerTelemetry, tool } from 'ai';
import { MockLanguageModelV4 } from 'ai/test';
import { aiSdkCases } from './ai-sdk-cases.mjs';

aiSdkCases('ai 7 + @ai-sdk/otel OpenTelemetry', {
  generateText,
  tool,
  stepCountIs: isStepCount,
  MockModel: MockLanguageModelV4,
  telemetry: { telemetry: { isEnabled: true } },
  // Each test has its own provider: start from a fresh integration (registerTelemetry appends).
  register: () => {
    globalThis.AI_SDK_TELEMETRY_INTEGRATIONS = [];
    registerTelemetry(new OpenTelemetry());
  },
  toolSpan: (spans, name) =>
    spans.find(
      (s) =>
        s.name === `execute_tool ${name}` &&
        s.attributes['gen_ai.tool.type'] !== undefined &&
        s.instrumentationScope.name !== 'alm-otel',
    ),
});
