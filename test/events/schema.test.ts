/** The exported schema rejects what the reference's backend would not accept. */
import { randomUUID } from 'node:crypto';
import { ALMEventSchema } from '../../src';

const base = {
  event_id: randomUUID(),
  timestamp: '2026-01-21T12:00:00.123Z',
  agent_id: 'a',
  env: 'development',
  run_id: randomUUID(),
  schema_version: '1.0',
  sdk_version: '0.1.0',
  agent_version: null,
  policy_version: null,
  trace_id: null,
  span_id: null,
};

const response = {
  tool_name: 't',
  tool_call_id: 'c',
  status: 'success',
  policy_latency_ms: 0,
  tool_latency_ms: 1,
  total_latency_ms: 1,
  attempt: 1,
  retries: 0,
};

describe('ALMEventSchema', () => {
  it('accepts a well-formed event', () => {
    expect(ALMEventSchema.safeParse({ ...base, event_type: 'tool.response', metadata: response }).success).toBe(true);
  });

  it.each([
    ['an unknown event type', { ...base, event_type: 'tool.retry', metadata: {} }],
    [
      'a timestamp without milliseconds',
      { ...base, timestamp: '2026-01-21T12:00:00Z', event_type: 'run.start', metadata: {} },
    ],
    ['an extra metadata field', { ...base, event_type: 'run.start', metadata: { purpose: 'p', extra: 1 } }],
    [
      'an error on success',
      {
        ...base,
        event_type: 'tool.response',
        metadata: { ...response, error: { type: 'E', message: '', source: 'tool', retryable: false } },
      },
    ],
    [
      'a result on a denied call',
      {
        ...base,
        event_type: 'tool.response',
        metadata: {
          ...response,
          status: 'denied',
          result: 1,
          error: { type: 'PermissionError', message: '', source: 'policy', retryable: false },
        },
      },
    ],
    [
      'a bad decision',
      {
        ...base,
        event_type: 'policy.decision',
        metadata: { tool_name: 't', tool_call_id: 'c', decision: 'maybe', reason: 'r', latency_ms: 0, attempt: 1 },
      },
    ],
    ['a bad schema version', { ...base, schema_version: '2.0', event_type: 'run.start', metadata: {} }],
    ['a malformed trace id', { ...base, trace_id: 'xyz', event_type: 'run.start', metadata: {} }],
  ])('rejects %s', (_label, event) => {
    expect(ALMEventSchema.safeParse(event).success).toBe(false);
  });
});
