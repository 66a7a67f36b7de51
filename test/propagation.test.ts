/**
 * Runs that cross processes: the run's id in its context's baggage, W3C inject/extract with and without
 * a global propagator, and the receiving side adopting the caller's run, over a real HTTP server on
 * 127.0.0.1 with the W3C propagation NodeSDK registers by default.
 */
import { spawn } from 'node:child_process';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { AddressInfo } from 'node:net';
import { ROOT_CONTEXT, context, propagation, trace } from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { ALM, type ALMEvent, type ALMOptions } from '../src';
import {
  RUN_ID_BAGGAGE_KEY,
  extractContext,
  injectContext,
  remoteRunId,
  remoteRunLabels,
  withRunBaggage,
} from '../src/propagation';
import { createHarness, ofType, type Harness } from './helpers/harness';
import { ROOT } from './helpers/scripts';

function receiver(events: ALMEvent[], policy: ALMOptions['policy'] = {}): ALM {
  return new ALM({
    agentId: 'receiver',
    policy,
    events: { sink: (batch) => void events.push(...batch), flushIntervalMs: 5, flushOnExit: false },
  });
}

describe('propagation helpers', () => {
  afterEach(() => propagation.disable());

  it('adds the run id and labels to the baggage, keeping what was there', () => {
    const before = propagation.setBaggage(ROOT_CONTEXT, propagation.createBaggage({ user: { value: 'u1' } }));
    const ctx = withRunBaggage(before, 'run-1', { tenant: 'acme' });
    expect(remoteRunId(ctx)).toBe('run-1');
    expect(remoteRunLabels(ctx)).toEqual({ tenant: 'acme' });
    expect(propagation.getBaggage(ctx)?.getEntry('user')?.value).toBe('u1');
  });

  it('ignores run ids no process of ours would send: empty, too long, unprintable', () => {
    for (const value of ['', 'x'.repeat(129), 'a b', 'a\nb']) {
      const ctx = propagation.setBaggage(ROOT_CONTEXT, propagation.createBaggage({ [RUN_ID_BAGGAGE_KEY]: { value } }));
      expect(remoteRunId(ctx)).toBeUndefined();
    }
  });

  it('injects W3C traceparent and baggage with no global propagator, and extracts them back', () => {
    expect(propagation.fields()).toEqual([]);
    const span = trace.wrapSpanContext({ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1 });
    const ctx = withRunBaggage(trace.setSpan(ROOT_CONTEXT, span), 'run-2');
    const carrier: Record<string, unknown> = { progressToken: 7 };
    injectContext(ctx, carrier);
    expect(carrier).toEqual({
      progressToken: 7,
      traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`,
      baggage: 'alm.run_id=run-2',
    });
    const back = extractContext(ROOT_CONTEXT, carrier);
    expect(trace.getSpanContext(back)?.traceId).toBe('a'.repeat(32));
    expect(remoteRunId(back)).toBe('run-2');
  });

  it('uses the global propagator when one is set, and W3C baggage when it carries none', () => {
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    const span = trace.wrapSpanContext({ traceId: 'c'.repeat(32), spanId: 'd'.repeat(16), traceFlags: 0 });
    const carrier: Record<string, unknown> = {};
    injectContext(withRunBaggage(trace.setSpan(ROOT_CONTEXT, span), 'run-3'), carrier);
    expect(carrier.traceparent).toBe(`00-${'c'.repeat(32)}-${'d'.repeat(16)}-00`);
    expect(carrier.baggage).toBe('alm.run_id=run-3');
  });

  it('extracts nothing from hostile carriers, and never throws', () => {
    for (const carrier of [{ traceparent: 42 }, { baggage: ['x=1', 3] }, { traceparent: 'garbage', baggage: '%%%' }]) {
      const ctx = extractContext(ROOT_CONTEXT, carrier as Record<string, unknown>);
      expect(trace.getSpanContext(ctx)).toBeUndefined();
      expect(remoteRunId(ctx)).toBeUndefined();
    }
  });
});

describe('a run that crosses processes over HTTP', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
    propagation.disable();
  });

  it("records the receiver's tool and model calls under the caller's run and trace", async () => {
    h = createHarness();
    // What NodeSDK registers by default.
    propagation.setGlobalPropagator(
      new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
    );
    const received: ALMEvent[] = [];
    const other = receiver(received, { deniedTools: ['wipe'], maxToolCallsPerRun: 2 });
    const lookup = other.tool('lookup', (q: string) => `found ${q}`);
    const wipe = other.tool('wipe', () => 'wiped');
    const seen: (string | undefined)[] = [];
    const server = createServer((req, res) => {
      const parent = propagation.extract(ROOT_CONTEXT, req.headers as IncomingHttpHeaders);
      context.with(parent, () => {
        seen.push(other.currentRunId());
        const outcome: string[] = [];
        for (const call of [() => lookup('a'), () => wipe(), () => lookup('b'), () => lookup('c')]) {
          try {
            outcome.push(call());
          } catch (error) {
            outcome.push((error as Error).name);
          }
        }
        other.llm({ provider: 'openai', model: 'gpt-4o' }, (call) => call.setUsage({ inputTokens: 3 }));
        res.end(JSON.stringify(outcome));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      let runId = '';
      let traceId: string | null = null;
      const body = await h.alm.run(async (run) => {
        runId = run.runId;
        traceId = run.traceId;
        const headers: Record<string, string> = {};
        propagation.inject(context.active(), headers);
        const response = await fetch(`http://127.0.0.1:${port}/`, { headers });
        return (await response.json()) as string[];
      });
      // The receiver's own policy and per-run budget, held per caller run.
      expect(body).toEqual(['found a', 'ToolDeniedError', 'found b', 'ToolDeniedError']);
      expect(seen).toEqual([runId]);
      await other.flush();
      const tools = received.filter((e) => e.event_type.startsWith('tool.') || e.event_type === 'policy.decision');
      expect(tools.length).toBe(12);
      for (const e of tools) expect([e.event_type, e.run_id, e.trace_id]).toEqual([e.event_type, runId, traceId]);
      expect(ofType(received, 'run.start')).toEqual([]);
      const lookupSpan = h.spans().find((s) => s.name === 'execute_tool lookup')!;
      expect(lookupSpan.spanContext().traceId).toBe(traceId);
      expect(lookupSpan.attributes['alm.run.id']).toBe(runId);
      const model = h.spans().find((s) => s.name === 'chat gpt-4o')!;
      expect(model.attributes['alm.run.id']).toBe(runId);
    } finally {
      server.close();
      await other.shutdown();
    }
  });

  it('records nothing under a remote run without its baggage, and a local run wins', async () => {
    h = createHarness();
    const received: ALMEvent[] = [];
    const other = receiver(received);
    const remote = propagation.setBaggage(
      ROOT_CONTEXT,
      propagation.createBaggage({ [RUN_ID_BAGGAGE_KEY]: { value: 'caller-run' } }),
    );
    context.with(ROOT_CONTEXT, () => other.tool('t', () => 1)());
    let local = '';
    context.with(remote, () => other.run((run) => ((local = run.runId), other.tool('t', () => 1)())));
    await other.flush();
    const runIds = received.filter((e) => e.event_type === 'tool.request').map((e) => e.run_id);
    expect(runIds).toEqual([null, local]);
    await other.shutdown();
  });
});

describe('a run that crosses processes: two real processes over HTTP', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
    propagation.disable();
  });

  it("the service's tools record under the caller's run and trace, each caller run with its own budget", async () => {
    h = createHarness();
    // The W3C propagation NodeSDK registers by default (the service process runs NodeSDK itself).
    propagation.setGlobalPropagator(
      new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
    );
    const child = spawn(process.execPath, [join(__dirname, 'fixtures', 'propagation', 'tool-service.cjs')], {
      cwd: ROOT,
      env: { ...process.env, ALM_DIST: join(ROOT, 'dist', 'index.cjs') },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const first = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout }).once('line', resolve);
        child.once('exit', (code) => reject(new Error(`tool service exited with ${code}`)));
      });
      const { port } = JSON.parse(first) as { port: number };
      const call = async (path: string) => {
        const headers: Record<string, string> = {};
        propagation.inject(context.active(), headers);
        const response = await fetch(`http://127.0.0.1:${port}${path}`, { headers });
        return (await response.json()) as { body: string; runId: string | null };
      };
      const runs: { runId: string; traceId: string | null; answers: unknown[] }[] = [];
      for (let i = 0; i < 2; i++) {
        await h.alm.run(async (run) => {
          runs.push({ runId: run.runId, traceId: run.traceId, answers: [await call('/a'), await call('/b')] });
        });
      }
      // maxToolCallsPerRun: 1 in the service, per caller run.
      for (const run of runs) {
        expect(run.answers).toEqual([
          { body: 'found /a', runId: run.runId },
          { body: 'ToolDeniedError', runId: run.runId },
        ]);
      }
      const done = (await (await fetch(`http://127.0.0.1:${port}/done`)).json()) as {
        events: ALMEvent[];
        spans: { name: string; traceId: string; runId: string }[];
      };
      const requests = ofType(done.events, 'tool.request');
      expect(requests.map((e) => [e.run_id, e.trace_id])).toEqual(
        runs.flatMap((r) => [
          [r.runId, r.traceId],
          [r.runId, r.traceId],
        ]),
      );
      expect(done.spans.map((s) => [s.name, s.runId, s.traceId])).toEqual(
        runs.flatMap((r) => [
          ['execute_tool lookup', r.runId, r.traceId],
          ['execute_tool lookup', r.runId, r.traceId],
        ]),
      );
    } finally {
      child.kill();
    }
  });
});
