/**
 * alm-otel end to end: an agent exports OTLP/HTTP to a real OpenTelemetry Collector (running the
 * project's collector-config.yaml), which forwards to a real Jaeger v2; the test reads the traces back
 * from Jaeger's query API and checks them against the ALM events the agent emitted.
 *
 *   npm run test:e2e
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { context, propagation, trace } from '@opentelemetry/api';
import type { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ALM, ALMEventSchema, ToolDeniedError, type ALMEvent, type ALMOptions } from '../../src';
import * as sc from '../../src/semconv';
import { runTsx } from '../helpers/scripts';
import { otlpProvider, pollUntil, startStack, type JaegerSpan, type Stack } from './harness';

const SERVICE = `alm-e2e-${randomUUID().slice(0, 8)}`;
const BURST_SERVICE = `${SERVICE}-burst`;
const BURST_RUNS = 200;
const STATUS_ERROR = 2;

let stack: Stack;
let provider: NodeTracerProvider;
const onError = jest.fn();

beforeAll(async () => {
  stack = await startStack();
  provider = otlpProvider(stack.collectorHttpUrl, { 'service.name': SERVICE, 'service.version': '1.0.0' });
  // The application's setup: global provider, AsyncLocalStorage context manager, W3C propagators.
  provider.register();
}, 90_000);

afterAll(async () => {
  await provider?.shutdown();
  trace.disable();
  context.disable();
  propagation.disable();
  await stack?.stop();
});

function researchAgent(sink: ALMEvent[], extra: Partial<ALMOptions> = {}): ALM {
  return new ALM({
    agentId: 'research-agent',
    env: 'production',
    agentVersion: '1.0.0',
    policyVersion: '2.0.0',
    policy: {
      allowedTools: ['search', 'read_*', 'flaky'],
      deniedTools: ['delete_*'],
      defaultAllow: true,
      maxToolCallsPerRun: 20,
      mode: 'enforce',
    },
    events: { sink: (events) => void sink.push(...events) },
    onError,
    ...extra,
  });
}

function only(spans: JaegerSpan[], predicate: (s: JaegerSpan) => boolean, what: string): JaegerSpan {
  const found = spans.filter(predicate);
  if (found.length !== 1) {
    throw new Error(
      `expected exactly one ${what}, found ${found.length} among: ${spans.map((s) => s.name).join(', ')}`,
    );
  }
  return found[0];
}

describe('one agent run, read back from Jaeger', () => {
  const events: ALMEvent[] = [];
  let spans: JaegerSpan[] = [];
  let runId = '';
  let runTraceId: string | null = null;
  let denied: ToolDeniedError | undefined;
  let failure: Error | undefined;

  beforeAll(async () => {
    const alm = researchAgent(events);
    const search = alm.tool('search', async ({ query }: { query: string }) => `results for ${query}`);
    const readDoc = alm.tool('read_doc', async ({ id }: { id: string }) => `contents of ${id}`);
    const deleteDoc = alm.tool('delete_doc', async ({ id }: { id: string }) => `deleted ${id}`);
    const flaky = alm.tool('flaky', async ({ attempt }: { attempt: number }) => {
      throw new Error(`upstream timeout on attempt ${attempt}`);
    });

    await alm.run({ purpose: 'Answer' }, async (run) => {
      runId = run.runId;
      runTraceId = run.traceId;
      await alm.task({ type: 'research', description: 'look it up' }, async () => {
        await search({ query: 'otel' });
        await readDoc({ id: 'doc-42' });
        try {
          await deleteDoc({ id: 'doc-42' });
        } catch (err) {
          denied = err as ToolDeniedError;
        }
        try {
          await flaky({ attempt: 1 });
        } catch (err) {
          failure = err as Error;
        }
      });
      alm.handoff({ toAgentId: 'writer', reason: 'needs prose', context: { topic: 'otel' } });
    });
    await alm.shutdown();
    await provider.forceFlush();

    expect(runTraceId).toMatch(/^[0-9a-f]{32}$/);
    // Jaeger may hold part of the trace before the rest arrives: wait for all 7 spans
    // (run, task, 4 tools, handoff).
    spans = await pollUntil(
      `trace ${runTraceId} with 7 spans in Jaeger`,
      () => stack.jaeger.getTrace(runTraceId!),
      (s) => s.length >= 7,
    );
  }, 90_000);

  test('the tool calls behaved as the policy says', () => {
    expect(denied).toBeInstanceOf(ToolDeniedError);
    expect(denied!.toolName).toBe('delete_doc');
    expect(failure?.message).toBe('upstream timeout on attempt 1');
    expect(onError).not.toHaveBeenCalled();
  });

  test('run → task → tool span tree with correct parents', () => {
    expect(spans).toHaveLength(7);
    expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([runTraceId]));

    const run = only(spans, (s) => s.name === 'invoke_agent research-agent', 'run span');
    const task = only(spans, (s) => s.name === 'task research', 'task span');
    const handoff = only(spans, (s) => s.name === 'handoff writer', 'handoff span');
    const tools = spans.filter((s) => s.name.startsWith('execute_tool '));

    expect(run.parentSpanId).toBe('');
    expect(task.parentSpanId).toBe(run.spanId);
    expect(handoff.parentSpanId).toBe(run.spanId);
    expect(tools.map((s) => s.name).sort()).toEqual([
      'execute_tool delete_doc',
      'execute_tool flaky',
      'execute_tool read_doc',
      'execute_tool search',
    ]);
    for (const tool of tools) expect(tool.parentSpanId).toBe(task.spanId);
  });

  test('service.name and the other resource attributes come from the resource', () => {
    for (const span of spans) {
      expect(span.resource['service.name']).toBe(SERVICE);
      expect(span.resource['service.version']).toBe('1.0.0');
    }
  });

  test('GenAI and alm.* attributes on the run span', () => {
    const run = only(spans, (s) => s.name === 'invoke_agent research-agent', 'run span');
    expect(run.attributes).toMatchObject({
      [sc.ATTR_GEN_AI_OPERATION_NAME]: 'invoke_agent',
      [sc.ATTR_GEN_AI_AGENT_ID]: 'research-agent',
      [sc.ATTR_GEN_AI_AGENT_VERSION]: '1.0.0',
      [sc.ATTR_ALM_RUN_ID]: runId,
      [sc.ATTR_ALM_ENV]: 'production',
      [sc.ATTR_ALM_POLICY_VERSION]: '2.0.0',
      [sc.ATTR_ALM_RUN_PURPOSE]: 'Answer',
      [sc.ATTR_ALM_RUN_TOOL_CALLS_TOTAL]: 4,
      [sc.ATTR_ALM_RUN_TOOL_CALLS_ALLOWED]: 3,
      [sc.ATTR_ALM_RUN_TOOL_CALLS_DENIED]: 1,
      [sc.ATTR_ALM_RUN_TOOL_CALLS_ERROR]: 1,
      [sc.ATTR_ALM_RUN_TOOL_CALLS_RETRIED]: 0,
      [sc.ATTR_ALM_RUN_TASKS_COMPLETED]: 1,
      [sc.ATTR_ALM_RUN_TASKS_FAILED]: 0,
      [sc.ATTR_ALM_RUN_HANDOFFS]: 1,
    });
    expect(typeof run.attributes[sc.ATTR_GEN_AI_AGENT_NAME]).toBe('string');
    expect(typeof run.attributes[sc.ATTR_ALM_RUN_SUCCESS]).toBe('boolean');

    // The summary on the span is the one the run.end event carries.
    const end = events.find((e) => e.event_type === 'run.end');
    expect(end?.event_type).toBe('run.end');
    if (end?.event_type !== 'run.end') return;
    expect(run.attributes[sc.ATTR_ALM_RUN_SUCCESS]).toBe(end.metadata.success);
    expect(run.attributes).toMatchObject({
      [sc.ATTR_ALM_RUN_TOOL_CALLS_TOTAL]: end.metadata.summary.tool_calls.total,
      [sc.ATTR_ALM_RUN_TOOL_CALLS_ALLOWED]: end.metadata.summary.tool_calls.allowed,
      [sc.ATTR_ALM_RUN_TOOL_CALLS_DENIED]: end.metadata.summary.tool_calls.denied,
      [sc.ATTR_ALM_RUN_TOOL_CALLS_ERROR]: end.metadata.summary.tool_calls.error,
      [sc.ATTR_ALM_RUN_HANDOFFS]: end.metadata.summary.handoffs,
    });
  });

  test('alm.* attributes on the task and handoff spans', () => {
    const task = only(spans, (s) => s.name === 'task research', 'task span');
    expect(task.attributes).toMatchObject({
      [sc.ATTR_ALM_RUN_ID]: runId,
      [sc.ATTR_ALM_TASK_TYPE]: 'research',
      [sc.ATTR_ALM_TASK_DESCRIPTION]: 'look it up',
      [sc.ATTR_ALM_TASK_SUCCESS]: true,
    });
    expect(task.attributes[sc.ATTR_ALM_TASK_ID]).toMatch(/^[0-9a-f-]{36}$/);

    const handoff = only(spans, (s) => s.name === 'handoff writer', 'handoff span');
    expect(handoff.attributes[sc.ATTR_ALM_HANDOFF_TO_AGENT_ID]).toBe('writer');
  });

  test('GenAI and alm.* attributes on the allowed tool spans (the decision an attribute, not a span event)', () => {
    for (const name of ['search', 'read_doc']) {
      const tool = only(spans, (s) => s.name === `execute_tool ${name}`, `${name} span`);
      expect(tool.attributes).toMatchObject({
        [sc.ATTR_GEN_AI_OPERATION_NAME]: 'execute_tool',
        [sc.ATTR_GEN_AI_TOOL_NAME]: name,
        [sc.ATTR_GEN_AI_TOOL_TYPE]: 'function',
        [sc.ATTR_ALM_RUN_ID]: runId,
        [sc.ATTR_ALM_POLICY_DECISION]: 'allow',
        [sc.ATTR_ALM_TOOL_STATUS]: 'success',
      });
      // The README documents alm.policy.reason as the reason of a deny; an allow's reason is always 'allowed'.
      expect([undefined, 'allowed']).toContain(tool.attributes[sc.ATTR_ALM_POLICY_REASON]);
      expect(tool.attributes[sc.ATTR_GEN_AI_TOOL_CALL_ID]).toEqual(expect.any(String));
      expect(tool.statusCode).not.toBe(STATUS_ERROR);
      expect(tool.events.map((e) => e.name)).not.toContain(sc.EVENT_POLICY_DECISION);
    }
  });

  test('the denied call is marked denied, with its policy decision', () => {
    const tool = only(spans, (s) => s.name === 'execute_tool delete_doc', 'delete_doc span');
    expect(tool.attributes).toMatchObject({
      [sc.ATTR_GEN_AI_TOOL_NAME]: 'delete_doc',
      [sc.ATTR_GEN_AI_TOOL_CALL_ID]: denied!.toolCallId,
      [sc.ATTR_ALM_RUN_ID]: runId,
      [sc.ATTR_ALM_POLICY_DECISION]: 'deny',
      [sc.ATTR_ALM_POLICY_REASON]: denied!.reason,
      [sc.ATTR_ALM_TOOL_STATUS]: 'denied',
    });
    expect(tool.statusCode).toBe(STATUS_ERROR);
    expect(tool.attributes[sc.ATTR_ERROR_TYPE]).toEqual(expect.any(String));
    expect(tool.events.map((e) => e.name)).toEqual(expect.arrayContaining([sc.EVENT_POLICY_DECISION, 'exception']));
  });

  test('the failing call is marked as an error, with its (allow) policy decision and the exception', () => {
    const tool = only(spans, (s) => s.name === 'execute_tool flaky', 'flaky span');
    expect(tool.attributes).toMatchObject({
      [sc.ATTR_GEN_AI_TOOL_NAME]: 'flaky',
      [sc.ATTR_ALM_RUN_ID]: runId,
      [sc.ATTR_ALM_POLICY_DECISION]: 'allow',
      [sc.ATTR_ALM_TOOL_STATUS]: 'error',
      [sc.ATTR_ERROR_TYPE]: 'Error',
    });
    expect(tool.statusCode).toBe(STATUS_ERROR);
    expect(tool.events.map((e) => e.name)).not.toContain(sc.EVENT_POLICY_DECISION);
    const exception = tool.events.find((e) => e.name === 'exception');
    expect(exception?.attributes['exception.message']).toBe('upstream timeout on attempt 1');
  });

  test('every ALM event is valid and its trace_id / span_id name a trace and span Jaeger holds', async () => {
    expect(events.length).toBeGreaterThanOrEqual(12);
    for (const event of events) {
      expect(() => ALMEventSchema.parse(event)).not.toThrow();
      expect(event.run_id).toBe(runId);
      expect(event.trace_id).toBe(runTraceId);
    }
    const spanIds = new Set(spans.map((s) => s.spanId));
    for (const event of events) expect(spanIds).toContain(event.span_id);

    // Checked against Jaeger itself too, not only against the spans read above.
    for (const traceId of new Set(events.map((e) => e.trace_id))) {
      expect((await stack.jaeger.getTrace(traceId!)).length).toBeGreaterThan(0);
    }

    // The denial event and the span agree on the tool call.
    const decision = events.find((e) => e.event_type === 'policy.decision' && e.metadata.decision === 'deny');
    const deniedSpan = only(spans, (s) => s.name === 'execute_tool delete_doc', 'delete_doc span');
    expect(decision?.span_id).toBe(deniedSpan.spanId);
  });

  test("Jaeger's tag search (the UI's Tags field) finds the run by alm.run.id, denials and tool errors", async () => {
    const byTags = (tags: Record<string, string>) => stack.jaeger.findTraceIdsByTags(SERVICE, tags);
    expect(await byTags({ [sc.ATTR_ALM_RUN_ID]: runId })).toEqual([runTraceId]);
    expect(await byTags({ [sc.ATTR_ALM_RUN_ID]: randomUUID() })).toEqual([]);
    expect(await byTags({ [sc.ATTR_ALM_POLICY_DECISION]: 'deny' })).toEqual([runTraceId]);
    expect(await byTags({ [sc.ATTR_ALM_TOOL_STATUS]: 'error' })).toEqual([runTraceId]);
  });
});

describe('alm-otel convert on what the pipeline stored', () => {
  test("Jaeger's OTLP/JSON of a run converts into the events the agent emitted, and validates", async () => {
    const events: ALMEvent[] = [];
    const alm = researchAgent(events);
    const search = alm.tool('search', async ({ query }: { query: string }) => `results for ${query}`);
    const deleteDoc = alm.tool('delete_doc', async () => 'deleted');
    const traceId = await alm.run({ purpose: 'Convert me' }, async (run) => {
      await alm.task({ type: 'research' }, async () => {
        await search({ query: 'otel' });
        await deleteDoc().catch(() => undefined);
      });
      alm.handoff({ toAgentId: 'writer', context: { topic: 'otel' } });
      return run.traceId!;
    });
    await alm.shutdown();
    await provider.forceFlush();
    await pollUntil(
      `trace ${traceId} with 5 spans in Jaeger`,
      () => stack.jaeger.getTrace(traceId),
      (s) => s.length >= 5,
    );

    // Jaeger's answer, as it sent it, through the real CLI (a child process).
    const dir = mkdtempSync(join(tmpdir(), 'alm-e2e-convert-'));
    try {
      const file = join(dir, 'jaeger-trace.json');
      writeFileSync(file, await stack.jaeger.getTraceText(traceId));
      const { stdout } = await runTsx('src/cli/index.ts', ['convert', file]);
      const converted = stdout
        .trim()
        .split('\n')
        .map((line) => ALMEventSchema.parse(JSON.parse(line)));
      writeFileSync(join(dir, 'events.jsonl'), stdout);
      const validated = await runTsx('src/cli/index.ts', ['validate', join(dir, 'events.jsonl')]);
      expect(validated.stdout.trim()).toBe(`ok: ${converted.length} valid events`);

      // The same events, but for what spans do not carry (ids, times, latencies, tool content).
      const comparable = (list: ALMEvent[]) =>
        list
          .map((e) => {
            const metadata = { ...(e.metadata as Record<string, unknown>) };
            for (const key of Object.keys(metadata)) if (key.includes('latency')) delete metadata[key];
            delete metadata.args;
            delete metadata.result;
            if (e.event_type === 'run.end') delete (metadata.summary as Record<string, unknown>).latencies;
            return {
              type: e.event_type,
              run: e.run_id,
              trace: e.trace_id,
              span: e.span_id,
              agent: e.agent_id,
              metadata,
            };
          })
          .sort((a, b) => `${a.span}${a.type}`.localeCompare(`${b.span}${b.type}`));
      expect(comparable(converted)).toEqual(comparable(events));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});

describe('a burst of runs through the collector', () => {
  test(`${BURST_RUNS} concurrent runs all arrive in Jaeger, none lost`, async () => {
    const burstProvider = otlpProvider(stack.collectorHttpUrl, { 'service.name': BURST_SERVICE });
    const events: ALMEvent[] = [];
    const alm = researchAgent(events, { tracerProvider: burstProvider });
    const search = alm.tool('search', async ({ query }: { query: string }) => `results for ${query}`);
    const from = new Date(Date.now() - 60_000);
    try {
      const runs = await Promise.all(
        Array.from({ length: BURST_RUNS }, (_, i) =>
          alm.run({ purpose: `burst ${i}` }, (run) =>
            alm.task({ type: 'lookup' }, async () => {
              await search({ query: `q${i}` });
              return { runId: run.runId, traceId: run.traceId };
            }),
          ),
        ),
      );
      await alm.shutdown();
      await burstProvider.forceFlush();

      const traceIds = new Set(runs.map((r) => r.traceId ?? 'missing'));
      expect(traceIds.size).toBe(BURST_RUNS);
      const runStarts = events.filter((e) => e.event_type === 'run.start');
      expect(runStarts).toHaveLength(BURST_RUNS);
      expect(new Set(runStarts.map((e) => e.trace_id))).toEqual(traceIds);

      const complete = (found: Map<string, JaegerSpan[]>) =>
        [...traceIds].every((id) => (found.get(id)?.length ?? 0) >= 3);
      const found = await pollUntil(
        `${BURST_RUNS} traces of 3 spans each in Jaeger`,
        () => stack.jaeger.findTraces(BURST_SERVICE, from, new Date(Date.now() + 60_000), 10 * BURST_RUNS),
        complete,
        90_000,
        1000,
      );
      expect(new Set(found.keys())).toEqual(traceIds);
      const runIds = new Set(runs.map((r) => r.runId));
      for (const [traceId, spans] of found) {
        expect(spans).toHaveLength(3);
        const run = only(spans, (s) => s.name === 'invoke_agent research-agent', `run span of ${traceId}`);
        const task = only(spans, (s) => s.name === 'task lookup', `task span of ${traceId}`);
        const tool = only(spans, (s) => s.name === 'execute_tool search', `tool span of ${traceId}`);
        expect(task.parentSpanId).toBe(run.spanId);
        expect(tool.parentSpanId).toBe(task.spanId);
        expect(runIds.has(String(run.attributes[sc.ATTR_ALM_RUN_ID]))).toBe(true);
        expect(run.resource['service.name']).toBe(BURST_SERVICE);
      }
    } finally {
      await burstProvider.shutdown();
    }
  }, 120_000);
});
