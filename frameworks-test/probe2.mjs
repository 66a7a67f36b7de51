import { trace, context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { LegacyOpenTelemetry } from '@ai-sdk/otel';
import * as ai7 from 'ai'; import * as t7 from 'ai/test';
import { z } from 'zod';
const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({exporter})] });
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(provider);
globalThis.AI_SDK_TELEMETRY_INTEGRATIONS = []; ai7.registerTelemetry(new LegacyOpenTelemetry());
const u3 = { inputTokens: { total: 10, noCache: 10 }, outputTokens: { total: 5, text: 5 } };
const model = new t7.MockLanguageModelV4({ doGenerate: [
 { content: [{ type: 'tool-call', toolCallId: 'c1', toolName: 'rm', input: '{"p":"x"}' }], finishReason: { unified: 'tool-calls', raw: 'x' }, usage: u3, warnings: [] },
 { content: [{ type: 'text', text: 'hi' }], finishReason: { unified: 'stop', raw: 'stop' }, usage: u3, warnings: [] }] });
const rm = ai7.tool({ inputSchema: z.object({ p: z.string() }), execute: async () => { const s = trace.getSpan(context.active()); console.log('tool active span', s.name, s.parentSpanContext?.spanId); return 'ok'; } });
const r = await ai7.generateText({ model, prompt: 'q', tools: { rm }, stopWhen: ai7.stepCountIs(3), telemetry: { isEnabled: true },
  toolApproval: ({ toolCall }) => { console.log('approval for', toolCall.toolName, toolCall.toolCallId, trace.getSpan(context.active())?.name); return undefined; } });
console.log(JSON.stringify(r.steps.map(s => s.content)).slice(0, 800));
console.log(JSON.stringify(model.doGenerateCalls[1]?.prompt).slice(0,1200));
for (const s of exporter.getFinishedSpans()) console.log(s.name, s.parentSpanContext?.spanId, s.spanContext().spanId, s.startTime, s.endTime);
