/**
 * No tracer provider and no context manager registered at all (this file registers nothing): runs,
 * nesting of run ids, budgets and events still hold, because alm-otel keeps its own async scope.
 */
import { ALM, ToolDeniedError, type ALMEvent } from '../../src';
import { validated } from '../helpers/harness';

describe('without any OpenTelemetry setup', () => {
  it('enforces budgets per run, keeps concurrent runs apart, and emits every event with null trace ids', async () => {
    const events: ALMEvent[] = [];
    const alm = new ALM({
      agentId: 'bare-agent',
      policy: { maxToolCallsPerRun: 1 },
      events: { sink: (batch) => void events.push(...batch) },
    });
    let bodies = 0;
    const work = alm.tool('work', async () => {
      bodies++;
      await new Promise((resolve) => setTimeout(resolve, 2));
    });
    const runIds = await Promise.all(
      [1, 2, 3].map(() =>
        alm.run(async (run) => {
          await alm.task(async (task) => {
            expect(task.runId).toBe(run.runId);
            const outcomes = await Promise.allSettled([work(), work()]);
            expect(outcomes.map((o) => o.status).sort()).toEqual(['fulfilled', 'rejected']);
            expect((outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult).reason).toBeInstanceOf(
              ToolDeniedError,
            );
          });
          expect(run.traceId).toBeNull();
          return run.runId;
        }),
      ),
    );
    await alm.shutdown();
    expect(bodies).toBe(3);
    expect(new Set(runIds).size).toBe(3);
    validated(events);
    expect(events).toHaveLength(3 * (2 + 2 + 6)); // run, task, two tool calls of three events each
    for (const e of events) {
      expect(runIds).toContain(e.run_id);
      expect([e.trace_id, e.span_id]).toEqual([null, null]);
    }
  });

  it('tools outside any run are allowed by rules alone and carry a null run_id', async () => {
    const events: ALMEvent[] = [];
    const alm = new ALM({
      agentId: 'a',
      policy: { maxToolCallsPerRun: 0 },
      events: { sink: (b) => void events.push(...b) },
    });
    const t = alm.tool('t', () => 42);
    expect(t()).toBe(42); // no run, so no per-run budget
    await alm.shutdown();
    expect(validated(events).map((e) => [e.event_type, e.run_id])).toEqual([
      ['tool.request', null],
      ['policy.decision', null],
      ['tool.response', null],
    ]);
  });
});
