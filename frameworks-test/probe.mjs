import { trace, context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { LegacyOpenTelemetry, OpenTelemetry } from '@ai-sdk/otel';
import * as ai7 from 'ai'; import * as t7 from 'ai/test';
import * as ai6 from 'ai6'; import * as t6 from 'ai6/test';
import * as ai5 from 'ai5'; import * as t5 from 'ai5/test';
const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({exporter})] });
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(provider);
const u3 = { inputTokens: { total: 10, noCache: 10 }, outputTokens: { total: 5, text: 5 } };
function wrap(m) { const w = Object.create(m); w.doGenerate = (o) => { const s = trace.getSpan(context.active()); console.log(' active at doGenerate:', s?.name, JSON.stringify(s?.attributes).slice(0,300)); return m.doGenerate(o); }; w.doStream = (o) => { const s = trace.getSpan(context.active()); console.log(' active at doStream:', s?.name); return m.doStream(o); }; return w; }
const which = process.argv[2];
let sdk, M, tel, usage = u3, fr = { unified: 'stop', raw: 'stop' };
if (which === '5') { sdk = ai5; M = t5.MockLanguageModelV2; tel = { experimental_telemetry: { isEnabled: true } }; usage = { inputTokens: 10, outputTokens: 5, totalTokens: 15 }; fr = 'stop'; }
if (which === '6') { sdk = ai6; M = t6.MockLanguageModelV3; tel = { experimental_telemetry: { isEnabled: true } }; }
if (which === '7o' || which === '7l') { sdk = ai7; M = t7.MockLanguageModelV4; tel = { telemetry: { isEnabled: true } }; globalThis.AI_SDK_TELEMETRY_INTEGRATIONS = []; ai7.registerTelemetry(which === '7o' ? new OpenTelemetry() : new LegacyOpenTelemetry()); }
const model = new M({ doGenerate: { content: [{ type: 'text', text: 'hi' }], finishReason: fr, usage, warnings: [] } });
await sdk.generateText({ model: wrap(model), prompt: 'q', ...tel });
for (const s of exporter.getFinishedSpans()) console.log(s.name, s.parentSpanContext?.spanId ?? s.parentSpanId, s.spanContext().spanId, Object.keys(s.attributes).filter(k=>/operation|usage|model/.test(k)).map(k=>k+'='+s.attributes[k]).join(' '));
