/**
 * The event stream and enforcement do not depend on sampling: an agent whose traces are all dropped
 * still emits every event and is still held to its policy.
 */
import { AlwaysOffSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace';
import { ToolDeniedError } from '../../src';
import { createHarness, ofType, type Harness } from '../helpers/harness';

async function agent(h: Harness): Promise<void> {
  const search = h.alm.tool('search', async (q: string) => q);
  const drop = h.alm.tool('drop_table', () => 'dropped');
  await h.alm.run({ purpose: 'sampled out' }, async () => {
    await h.alm.task({ type: 'work' }, async () => {
      await search('a');
      await search('b');
      await expect(search('c')).rejects.toBeInstanceOf(ToolDeniedError); // budget of 2
      expect(() => drop()).toThrow(ToolDeniedError);
    });
    h.alm.handoff({ toAgentId: 'next' });
  });
}

const EXPECTED_TYPES = [
  'run.start',
  'task.start',
  ...['tool.request', 'policy.decision', 'tool.response'],
  ...['tool.request', 'policy.decision', 'tool.response'],
  ...['tool.request', 'policy.decision', 'tool.response'],
  ...['tool.request', 'policy.decision', 'tool.response'],
  'task.end',
  'handoff',
  'run.end',
];

describe('sampling', () => {
  let h: Harness;
  afterEach(() => h.close());

  it('with an always-off sampler: no spans, every event, policy enforced', async () => {
    h = createHarness({
      sampler: new AlwaysOffSampler(),
      alm: { policy: { maxToolCallsPerRun: 2, deniedTools: ['drop_*'] } },
    });
    await agent(h);
    expect(h.spans()).toHaveLength(0);
    const events = await h.flushEvents();
    expect(events.map((e) => e.event_type)).toEqual(EXPECTED_TYPES);
    // Unsampled spans still have real ids, so events stay correlatable with a trace that is sampled elsewhere.
    for (const e of events) expect(e.trace_id).toMatch(/^[0-9a-f]{32}$/);
    expect(ofType(events, 'run.end')[0]!.metadata.summary.tool_calls).toEqual({
      total: 4,
      allowed: 2,
      denied: 2,
      error: 0,
      retried: 0,
    });
  });

  it('at 1% sampling, 100% of 50 runs emit their full event stream', async () => {
    h = createHarness({
      sampler: new TraceIdRatioBasedSampler(0.01),
      alm: { policy: { maxToolCallsPerRun: 2, deniedTools: ['drop_*'] } },
    });
    for (let i = 0; i < 50; i++) await agent(h);
    const events = await h.flushEvents();
    expect(ofType(events, 'run.end')).toHaveLength(50);
    expect(events).toHaveLength(50 * EXPECTED_TYPES.length);
    // Each run makes 7 spans; at 1%, seeing more than 10 of 50 runs sampled has odds below 1e-12.
    expect(h.spans().length).toBeLessThanOrEqual(10 * 7);
  });
});
