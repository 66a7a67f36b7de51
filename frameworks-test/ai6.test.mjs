// ai 6's built-in telemetry (experimental_telemetry): ai.toolCall spans.
import { generateText, stepCountIs, tool } from 'ai6';
import { MockLanguageModelV3 } from 'ai6/test';
import { aiSdkCases } from './ai-sdk-cases.mjs';

aiSdkCases('ai 6 built-in telemetry', {
  generateText,
  tool,
  stepCountIs,
  MockModel: MockLanguageModelV3,
  telemetry: { experimental_telemetry: { isEnabled: true } },
  register: () => {},
  toolSpan: (spans, name) => spans.find((s) => s.name === 'ai.toolCall' && s.attributes['ai.toolCall.name'] === name),
});
