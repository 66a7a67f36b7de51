/**
 * The compiled check (src/cli/fast-check.ts) against zod's own parse of ALMEventSchema: for every event
 * type, valid events (recorded from a real run, and hand-written with every optional field) and
 * thousands of hostile variants of each (every field removed, retyped, set to huge, negative,
 * fractional, empty, deeply nested values, an extra key at every level, `__proto__` keys), the
 * compiled check says yes exactly when zod does, and `checkLine` gives exactly what zod's parse gives.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as z from 'zod/mini';
import { ALMEventSchema, type ALMEvent } from '../../src';
import { checkLine, type LineResult } from '../../src/cli/common';
import { compileCheck } from '../../src/cli/fast-check';
import { createTestALM } from '../../src/testing';
import { ROOT } from '../helpers/scripts';

const fast = compileCheck(ALMEventSchema)!;
const zodAccepts = (value: unknown) => ALMEventSchema.safeParse(value).success;

const UUID = ['0d1c4b1e-8a6f-4e53-9d2b-2f1f6f3c9a10', '6f9619ff-8b86-4d01-b42d-00cf4fc964ff'] as const;
const envelope = {
  event_id: UUID[0],
  timestamp: '2026-01-21T12:00:00.123Z',
  agent_id: 'agent',
  env: 'production',
  run_id: UUID[1],
  schema_version: '1.0',
  sdk_version: '0.1.0',
  agent_version: '1.2.3',
  policy_version: 'p1',
  trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
  span_id: '00f067aa0ba902b7',
};
const error = { type: 'ConnectionError', message: 'timeout', source: 'tool', retryable: true, code: 'ETIMEDOUT' };
const summary = {
  tool_calls: { total: 3, allowed: 2, denied: 1, error: 1, retried: 0 },
  latencies: { avg_tool_ms: 1.5, avg_policy_ms: 0.01, total_run_ms: 20 },
  tasks: { completed: 1, failed: 0 },
  handoffs: 1,
  llm_calls: 2,
  tokens: { input: 1200, output: 300 },
  cost_usd: 0.0004,
  budget_exceeded: { budget: 'cost', limit: 0.0003, spent: 0.0004, model: 'gpt-4o-mini', flagged_llm_calls: 1 },
};
const tool = { tool_name: 'search', tool_call_id: 'call_1' };
const llm = { llm_call_id: UUID[0], provider: 'openai', model: 'gpt-4o-mini', operation: 'chat' };
const response = { policy_latency_ms: 0.01, tool_latency_ms: 1, total_latency_ms: 1.01, attempt: 2, retries: 1 };

/** Every event type, with every optional field it has (and some without). */
const HAND_WRITTEN: Record<string, unknown>[] = [
  { event_type: 'run.start', metadata: { purpose: 'p', parent_run_id: UUID[0], labels: { tenant: 'acme' } } },
  { event_type: 'run.start', metadata: {} },
  { event_type: 'run.end', metadata: { success: false, summary, error: { ...error, source: 'agent' } } },
  { event_type: 'run.end', metadata: { success: true, summary: { ...summary, budget_exceeded: undefined } } },
  { event_type: 'task.start', metadata: { task_id: UUID[0], task_type: 'plan', description: 'd' } },
  { event_type: 'task.end', metadata: { task_id: UUID[0], success: false, error } },
  { event_type: 'tool.request', metadata: { ...tool, args: { inputs: { q: 'x', n: [1, { a: null }] } }, attempt: 1 } },
  { event_type: 'tool.request', metadata: { ...tool, args: { args: ['x', 1, null] }, attempt: 3 } },
  {
    event_type: 'policy.decision',
    metadata: { ...tool, decision: 'deny', reason: 'denied_tools', latency_ms: 0.02, attempt: 1 },
  },
  { event_type: 'tool.response', metadata: { ...tool, ...response, status: 'success', result: { rows: [1, 2] } } },
  { event_type: 'tool.response', metadata: { ...tool, ...response, status: 'error', error } },
  {
    event_type: 'tool.response',
    metadata: { ...tool, ...response, status: 'denied', error: { ...error, source: 'policy', retryable: false } },
  },
  { event_type: 'handoff', metadata: { from_agent_id: 'a', to_agent_id: 'b', reason: 'r', context: { k: [1] } } },
  { event_type: 'llm.request', metadata: llm },
  {
    event_type: 'llm.response',
    metadata: {
      ...llm,
      status: 'success',
      response_model: 'gpt-4o-mini-2024-07-18',
      response_id: 'chatcmpl-1',
      finish_reasons: ['stop'],
      input_tokens: 1000,
      output_tokens: 200,
      cost_usd: 0.0003,
      latency_ms: 12.5,
    },
  },
  {
    event_type: 'llm.response',
    metadata: { ...llm, status: 'error', input_tokens: 0, output_tokens: 0, cost_usd: null, latency_ms: 3, error },
  },
].map((e) => JSON.parse(JSON.stringify({ ...envelope, ...e })));

/** A real run's events: tasks, an allowed, a denied and a failing tool, a handoff, model calls over a cost budget. */
async function recorded(): Promise<ALMEvent[]> {
  const alm = createTestALM({
    events: { llmEvents: true },
    policy: {
      deniedTools: ['rm'],
      maxCostPerRun: 0.0002,
      prices: { m: { inputPerMillion: 1, outputPerMillion: 2 } },
    },
  });
  const read = alm.tool('read', (path: string) => ({ path, text: 'x' }));
  const rm = alm.tool('rm', () => 'gone');
  const flaky = alm.tool('flaky', () => {
    throw new Error('boom');
  });
  await alm.run({ purpose: 'fuzz', labels: { tenant: 'acme' } }, async () => {
    await alm.task({ type: 'work', description: 'd' }, async () => {
      read('a.txt');
      for (const call of [rm, flaky]) {
        try {
          call();
        } catch {
          // denied, failed
        }
      }
      for (let i = 0; i < 3; i++) {
        try {
          await alm.llm({ provider: 'p', model: 'm' }, async () => ({
            usage: { prompt_tokens: 100, completion_tokens: 50 },
          }));
        } catch {
          // over the cost budget
        }
      }
    });
    alm.handoff({ toAgentId: 'next', reason: 'r', context: { a: 1 } });
  });
  const events = await alm.events();
  await alm.shutdown();
  return events;
}

const HOLE = '\u0000HOLE\u0000';
const HOLE_JSON = JSON.stringify(HOLE);
const deep = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

/** Values put in place of each field, as JSON text (1e400 parses to Infinity, which JSON.stringify cannot write). */
const HOSTILE = [
  'null',
  'true',
  'false',
  '0',
  '-0',
  '-1',
  '1',
  '2',
  '1.5',
  '-0.5',
  '1e-400',
  '1e308',
  '-1e308',
  '1e400',
  '-1e400',
  '9007199254740991',
  '9007199254740993',
  '-9007199254740993',
  '""',
  '" "',
  '"x"',
  '"\\ud83d\\ude00"',
  '"\\ud800"',
  '"success"',
  '"SUCCESS"',
  '"deny"',
  '"policy"',
  '"cost"',
  '"1.0"',
  '"1"',
  `"${UUID[0]}"`,
  `"${UUID[0].toUpperCase()}"`,
  '"00000000-0000-0000-0000-000000000000"',
  '"0d1c4b1e-8a6f-0e53-9d2b-2f1f6f3c9a10"',
  '"2026-02-28T23:59:59.999Z"',
  '"2026-02-30T12:00:00.123Z"',
  '"2026-01-21T12:00:00Z"',
  '"2026-01-21T12:00:00.123+01:00"',
  '"4bf92f3577b34da6a3ce929d0e0e4736"',
  '"4BF92F3577B34DA6A3CE929D0E0E4736"',
  '"00f067aa0ba902b7"',
  '[]',
  '[1]',
  '["a"]',
  '[null]',
  '{}',
  '{"a":1}',
  '{"__proto__":1}',
  '{"inputs":{}}',
  '{"args":[]}',
  '{"inputs":[]}',
  '{"type":"E","message":"m","source":"tool","retryable":false}',
  '{"input":1,"output":2}',
  deep(2000),
  `[${deep(2000)}]`,
];

/** Every object and array in a value, with its path. */
function containers(value: unknown, path: (string | number)[] = []): { path: (string | number)[]; at: any }[] {
  if (typeof value !== 'object' || value === null) return [];
  const out = [{ path, at: value }];
  for (const [key, child] of Object.entries(value)) {
    out.push(...containers(child, [...path, Array.isArray(value) ? Number(key) : key]));
  }
  return out;
}

function at(root: any, path: (string | number)[]): any {
  return path.reduce((v, k) => v[k], root);
}

/** Variants of an event as JSON lines: each field removed, replaced by each hostile value, and a key added everywhere. */
function variants(event: unknown): string[] {
  const out: string[] = [];
  const copy = () => JSON.parse(JSON.stringify(event));
  const withHole = (edit: (container: any) => void, path: (string | number)[]) => {
    const root = copy();
    edit(at(root, path));
    return JSON.stringify(root);
  };
  for (const { path, at: container } of containers(event)) {
    const keys: (string | number)[] = Array.isArray(container) ? container.map((_, i) => i) : Object.keys(container);
    for (const key of keys) {
      if (!Array.isArray(container)) {
        out.push(
          withHole((c) => {
            delete c[key];
          }, path),
        );
      }
      const text = withHole((c) => (c[key] = HOLE), path);
      for (const raw of HOSTILE) out.push(text.replace(HOLE_JSON, raw));
    }
    if (Array.isArray(container)) continue;
    for (const extra of ['extra', '__proto__', 'constructor', 'toString']) {
      const text = withHole(
        (c) => Object.defineProperty(c, extra, { value: HOLE, enumerable: true, writable: true, configurable: true }),
        path,
      );
      for (const raw of ['null', '1', '"x"', '{}']) out.push(text.replace(HOLE_JSON, raw));
    }
  }
  return out;
}

/** What checkLine gave before the compiled check: zod's parse of every line, its messages in English. */
const zodLine = (text: string, line: number): LineResult => checkLine(text, line, undefined);

describe('the compiled check of ALMEventSchema', () => {
  let valid: Record<string, unknown>[];
  beforeAll(async () => {
    valid = [...HAND_WRITTEN, ...(await recorded()).map((e) => JSON.parse(JSON.stringify(e)))];
  });

  it('is compiled (the fast path is on)', () => {
    expect(typeof fast).toBe('function');
  });

  it('accepts every valid event, of every event type', () => {
    const types = new Set(ALMEventSchema._zod.def.options.map((o) => o._zod.def.shape.event_type._zod.def.values[0]));
    expect(new Set(valid.map((e) => e.event_type))).toEqual(types);
    for (const event of valid) {
      expect([event.event_type, zodAccepts(event)]).toEqual([event.event_type, true]);
      expect([event.event_type, fast(event)]).toEqual([event.event_type, true]);
    }
  });

  it('agrees with zod on thousands of hostile variants of each event type', () => {
    const tally = new Map<string, { accepted: number; rejected: number }>();
    const disagreements: string[] = [];
    for (const event of valid) {
      const type = event.event_type as string;
      const t = tally.get(type) ?? { accepted: 0, rejected: 0 };
      tally.set(type, t);
      for (const text of variants(event)) {
        const zod = zodAccepts(JSON.parse(text));
        if (fast(JSON.parse(text)) !== zod)
          disagreements.push(`zod ${zod ? 'accepts' : 'rejects'}: ${text.slice(0, 2000)}`);
        if (zod) t.accepted++;
        else t.rejected++;
      }
    }
    expect(disagreements).toEqual([]);
    // Not vacuous: each type has variants either way.
    for (const [type, t] of tally) {
      expect([type, t.accepted > 10, t.rejected > 100]).toEqual([type, true, true]);
    }
  });

  it('gives checkLine exactly what zod gives: the same event, or the same problems in the same words', () => {
    let compared = 0;
    for (const event of HAND_WRITTEN) {
      for (const text of variants(event).filter((_, i) => i % 7 === 0)) {
        // zod's copy leaves out a record's __proto__ key: compared by verdict above, not by content here.
        if (text.includes('"__proto__"')) continue;
        expect(checkLine(text, 7)).toEqual(zodLine(text, 7));
        compared++;
      }
    }
    for (const text of ['', 'nope', '[]', '1', 'null', '{"event_type":"run.start"}']) {
      expect(checkLine(text, 1)).toEqual(zodLine(text, 1));
    }
    expect(compared).toBeGreaterThan(1000);
  });

  it('parses a line once when it is valid, and with zod only when it is not', () => {
    const spy = jest.spyOn(ALMEventSchema, 'safeParse');
    try {
      const good = JSON.stringify(HAND_WRITTEN[0]);
      const result = checkLine(good, 1);
      expect('event' in result && result.event).toEqual(HAND_WRITTEN[0]);
      expect(spy).not.toHaveBeenCalled();
      const bad = good.replace('"1.0"', '"2.0"');
      expect(checkLine(bad, 2)).toEqual({
        line: 2,
        problems: [
          { line: 2, field: 'schema_version', message: 'Invalid input: expected "1.0"', eventType: 'run.start' },
        ],
      });
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
    }
  });

  it('checks a string again when it differs from the last one that passed there', () => {
    const event = HAND_WRITTEN[0]!;
    const other = (fields: Record<string, unknown>) => ({ ...event, ...fields });
    expect(fast(event)).toBe(true);
    expect(fast(other({ run_id: UUID[1].toUpperCase().replace('4', 'g') }))).toBe(false);
    expect(fast(other({ trace_id: '4bf92f3577b34da6a3ce929d0e0e473' }))).toBe(false);
    expect(fast(other({ agent_id: '' }))).toBe(false);
    expect(fast(event)).toBe(true);
    expect(fast(other({ run_id: UUID[0] }))).toBe(true);
  });

  describe('hostile values, named', () => {
    const base = HAND_WRITTEN.find(
      (e) => e.event_type === 'tool.response' && (e.metadata as any).status === 'success',
    )!;
    const line = (metadata: string) => JSON.stringify({ ...base, metadata: HOLE }).replace(HOLE_JSON, metadata);
    const meta = (fields: string) =>
      line(
        `{"tool_name":"t","tool_call_id":"c","status":"success","policy_latency_ms":0,"tool_latency_ms":1,"total_latency_ms":1,${fields}}`,
      );
    const both = (text: string) => {
      const value = JSON.parse(text);
      return [fast(value), zodAccepts(value)];
    };

    it.each([
      [
        'a latency of 1e308',
        meta('"attempt":1,"retries":0').replace('"tool_latency_ms":1', '"tool_latency_ms":1e308'),
        true,
      ],
      [
        'a latency of 1e400 (Infinity)',
        meta('"attempt":1,"retries":0').replace('"tool_latency_ms":1', '"tool_latency_ms":1e400'),
        false,
      ],
      ['retries past 2^53', meta('"attempt":1,"retries":9007199254740993'), false],
      ['retries of -0', meta('"attempt":1,"retries":-0'), true],
      ['an attempt of 1.5', meta('"attempt":1.5,"retries":0'), false],
      ['an attempt of 0', meta('"attempt":0,"retries":0'), false],
      ['an attempt as a string', meta('"attempt":"1","retries":0'), false],
      ['a result nested 100,000 deep', meta(`"attempt":1,"retries":0,"result":${deep(100_000)}`), true],
      [
        'an error on success',
        meta('"attempt":1,"retries":0,"error":{"type":"E","message":"m","source":"tool","retryable":false}'),
        false,
      ],
      ['an extra metadata field', meta('"attempt":1,"retries":0,"extra":1'), false],
      ['a __proto__ metadata field', meta('"attempt":1,"retries":0,"__proto__":{}'), false],
      ['metadata that is an array', line('[]'), false],
      ['metadata nested 100,000 deep', line(deep(100_000)), false],
    ])('%s', (_label, text, expected) => {
      expect(both(text)).toEqual([expected, expected]);
    });

    it('a __proto__ label is accepted by both (zod skips that key of a record), an extra envelope key by neither', () => {
      const start = JSON.stringify(HAND_WRITTEN[0]);
      expect(both(start.replace('"labels":{', '"labels":{"__proto__":5,'))).toEqual([true, true]);
      expect(both(start.replace('"labels":{', '"labels":{"a":5,'))).toEqual([false, false]);
      expect(both(start.replace('{', '{"__proto__":{},'))).toEqual([false, false]);
      expect(both(start.replace('{', '{"traceId":null,'))).toEqual([false, false]);
    });

    it('a handoff context nested 100,000 deep is accepted by both', () => {
      const handoff = HAND_WRITTEN.find((e) => e.event_type === 'handoff')!;
      const text = JSON.stringify({ ...handoff, metadata: { ...(handoff.metadata as object), context: HOLE } });
      expect(both(text.replace(HOLE_JSON, deep(100_000)))).toEqual([true, true]);
    });
  });
});

describe('compileCheck', () => {
  it('compiles the schemas it walks, and agrees with zod on them', () => {
    const cases: [z.ZodMiniType, unknown[]][] = [
      [z.union([z.string(), z.int()]), ['a', 1, 1.5, null, []]],
      [z.array(z.nullable(z.number())), [[], [1, null], [1, 'a'], {}, [Infinity]]],
      [z.object({ a: z.optional(z.string()) }), [{}, { a: 'x' }, { a: 1 }, { b: 1 }, [], null]],
      [z.looseObject({ a: z.boolean() }), [{ a: true, b: 1 }, { b: 1 }, { a: 'true' }]],
      [z.string().check(z.maxLength(2), z.regex(/^a/)), ['a', 'ab', 'abc', 'b', '']],
      [z.enum(['x', 'y']), ['x', 'z', 1]],
      [z.record(z.string(), z.int().check(z.maximum(3))), [{}, { a: 3 }, { a: 4 }, [], { a: 1, b: 'x' }]],
    ];
    for (const [schema, values] of cases) {
      const check = compileCheck(schema);
      expect(check).toBeDefined();
      for (const value of values) expect([value, check!(value)]).toEqual([value, schema.safeParse(value).success]);
    }
  });

  it('compiles nothing it does not walk (zod then parses every line)', () => {
    for (const schema of [
      z.pipe(
        z.string(),
        z.transform((s) => s.length),
      ),
      z._default(z.string(), 'x'),
      z.object({ a: z._default(z.string(), 'x') }),
      z.string().check(z.trim()),
      z.xor([z.string(), z.number()]),
      z.array(z.string()).check(z.minLength(1)),
      z.record(z.enum(['a', 'b']), z.string()),
      z.discriminatedUnion('k', [z.object({ k: z.literal('a') }), z.object({ k: z.optional(z.literal('b')) })], {
        unionFallback: true,
      }),
    ] as z.ZodMiniType[]) {
      expect(compileCheck(schema)).toBeUndefined();
    }
  });

  it('where generated code is not allowed, the command falls back to zod and says the same', () => {
    const dir = mkdtempSync(join(tmpdir(), 'alm-fast-check-'));
    try {
      const file = join(dir, 'events.jsonl');
      const broken = JSON.stringify({ ...HAND_WRITTEN[1], schema_version: '2.0' });
      writeFileSync(file, [...HAND_WRITTEN.map((e) => JSON.stringify(e)), broken].join('\n'));
      const run = (flags: string[]) => {
        try {
          return execFileSync(process.execPath, [...flags, join(ROOT, 'dist', 'cli', 'index.cjs'), 'validate', file], {
            encoding: 'utf8',
            stdio: 'pipe',
          });
        } catch (e) {
          const { status, stdout, stderr } = e as { status: number; stdout: string; stderr: string };
          return `${status}\n${stdout}${stderr}`;
        }
      };
      const withCodegen = run([]);
      expect(withCodegen).toBe(
        `1\nline ${HAND_WRITTEN.length + 1}: schema_version: Invalid input: expected "1.0" (run.start)\n` +
          `1 invalid line, ${HAND_WRITTEN.length} valid events\n`,
      );
      expect(run(['--disallow-code-generation-from-strings'])).toBe(withCodegen);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
