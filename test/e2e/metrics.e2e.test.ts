/**
 * alm-otel's GenAI metrics, recorded through the API's global MeterProvider, exported over OTLP/HTTP to
 * the real collector running the project's collector-config.yaml, and delivered by its metrics pipeline
 * (the otlp_http exporter users point at Prometheus; the overlay points it at this test).
 */
import { randomUUID } from 'node:crypto';
import { metrics } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { ALM, ToolDeniedError } from '../../src';
import { pollUntil, startStack, type Stack } from './harness';

let stack: Stack;
let provider: MeterProvider;
const service = `metrics-e2e-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  stack = await startStack();
}, 90_000);

afterAll(async () => {
  await provider?.shutdown();
  metrics.disable();
  await stack?.stop();
});

test('token usage, durations, policy decisions and budget refusals reach the collector', async () => {
  const alm = new ALM({
    agentId: 'metrics-agent',
    events: { sink: 'none' },
    policy: { deniedTools: ['rm'], maxLlmCallsPerRun: 1 },
  });
  // Registered after the ALM was built, as an application wiring NodeSDK later would.
  provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': service }),
    readers: [
      new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter({ url: `${stack.collectorHttpUrl}/v1/metrics` }),
        exportIntervalMillis: 3_600_000,
      }),
    ],
  });
  metrics.setGlobalMeterProvider(provider);
  const search = alm.tool('search', () => 'found');
  const rm = alm.tool('rm', () => 'gone');
  await alm.run(async () => {
    search();
    expect(() => rm()).toThrow(ToolDeniedError);
    await alm.llm({ provider: 'openai', model: 'gpt-4o-mini' }, async () => ({
      model: 'gpt-4o-mini',
      usage: { prompt_tokens: 120, completion_tokens: 30 },
    }));
    await expect(alm.llm({ provider: 'openai', model: 'gpt-4o-mini' }, async () => 'never')).rejects.toThrow(
      'Budget exceeded: 1/1 model calls',
    );
  });
  await provider.forceFlush();
  await alm.shutdown();

  const expected = [
    'gen_ai.client.token.usage',
    'gen_ai.client.operation.duration',
    'gen_ai.execute_tool.duration',
    'gen_ai.invoke_agent.duration',
    'alm.policy.decisions',
    'alm.budget.exceeded',
  ];
  const names = await pollUntil(
    `alm-otel metrics of ${service} from the collector`,
    async () => {
      const found = new Set<string>();
      for (const request of stack.metricsReceived) {
        for (const rm of request.resourceMetrics ?? []) {
          const ours = rm.resource?.attributes?.some(
            (a) => a.key === 'service.name' && a.value.stringValue === service,
          );
          if (!ours) continue;
          for (const sm of rm.scopeMetrics ?? []) {
            if (sm.scope?.name !== 'alm-otel') continue;
            for (const m of sm.metrics ?? []) found.add(m.name);
          }
        }
      }
      return found;
    },
    (found) => expected.every((name) => found.has(name)),
  );
  expect([...names].sort()).toEqual([...expected].sort());
});
