/** What a wrapped tool does for its caller: same signature, same results, same errors, whatever they are. */
import { ToolDeniedError } from '../../src';
import { createHarness, ofType, type Harness } from '../helpers/harness';
import { runNode } from '../helpers/child';

describe('alm.tool', () => {
  let h: Harness;
  afterEach(() => h.close());

  it('keeps a sync tool sync, and its name, arity and this', () => {
    h = createHarness();
    const counter = {
      base: 10,
      add(this: { base: number }, a: number, b: number) {
        return this.base + a + b;
      },
    };
    const add = h.alm.tool('add', counter.add);
    expect(add.name).toBe('add');
    expect(add.length).toBe(2);
    const result = h.alm.run(() => add.call(counter, 1, 2));
    expect(result).toBe(13); // not a promise
  });

  it.each([
    ['a string', 'boom'],
    ['null', null],
    ['undefined', undefined],
    ['a number', 42],
    ['a plain object', { code: 'E_WHATEVER' }],
    ['an Error subclass', new RangeError('out of range')],
    ['an object with a symbol status', { message: 'boom', status: Symbol('s') }],
    ['an object whose response status cannot be converted', { response: { status: Object.create(null) } }],
  ])('rethrows %s unchanged, sync and async', async (_label, thrown) => {
    h = createHarness();
    const sync = h.alm.tool('sync', () => {
      throw thrown;
    });
    const asyncTool = h.alm.tool('async', async () => {
      throw thrown;
    });
    let caught: unknown = 'nothing';
    try {
      h.alm.run(() => sync());
    } catch (error) {
      caught = error;
    }
    expect(caught).toBe(thrown);
    await expect(h.alm.run(() => asyncTool())).rejects.toBe(thrown);
    const events = await h.flushEvents();
    const responses = ofType(events, 'tool.response');
    expect(responses.map((e) => e.metadata.status)).toEqual(['error', 'error']);
    expect(responses[0]!.metadata.error).toMatchObject({ source: 'tool' });
  });

  it('describes the error structurally, detecting retryable ones', async () => {
    h = createHarness();
    class ConnectionError extends Error {}
    const flaky = h.alm.tool('flaky', () => {
      throw new ConnectionError('Simulated connection timeout');
    });
    const refused = h.alm.tool('refused', () => {
      throw Object.assign(new Error('connect failed'), { code: 'ECONNREFUSED' });
    });
    h.alm.run(() => {
      expect(() => flaky()).toThrow(ConnectionError);
      expect(() => refused()).toThrow('connect failed');
    });
    const [first, second] = ofType(await h.flushEvents(), 'tool.response');
    expect(first!.metadata.error).toEqual({
      type: 'ConnectionError',
      message: 'Simulated connection timeout',
      source: 'tool',
      retryable: true,
    });
    expect(second!.metadata.error).toEqual({
      type: 'Error',
      message: 'connect failed',
      source: 'tool',
      retryable: true,
      code: 'ECONNREFUSED',
    });
    const span = h.spans().find((s) => s.name === 'execute_tool flaky')!;
    expect(span.status).toEqual({ code: 2, message: 'Simulated connection timeout' });
    expect(span.attributes).toMatchObject({ 'error.type': 'ConnectionError', 'alm.tool.status': 'error' });
    expect(span.events.find((e) => e.name === 'exception')?.attributes?.['exception.message']).toBe(
      'Simulated connection timeout',
    );
  });

  it('never runs a denied tool body, and says who, which call and why', async () => {
    h = createHarness({ alm: { policy: { deniedTools: ['rm'] } } });
    let ran = false;
    const rm = h.alm.tool('rm', () => {
      ran = true;
    });
    let denied: ToolDeniedError | undefined;
    h.alm.run(() => {
      try {
        rm();
      } catch (error) {
        denied = error as ToolDeniedError;
      }
    });
    expect(ran).toBe(false);
    expect(denied).toBeInstanceOf(ToolDeniedError);
    expect(denied!.name).toBe('ToolDeniedError');
    expect(denied!.message).toBe("Tool 'rm' denied: Tool 'rm' is in denied_tools list");
    const events = await h.flushEvents();
    const [response] = ofType(events, 'tool.response');
    expect(response!.metadata).toMatchObject({
      tool_call_id: denied!.toolCallId,
      status: 'denied',
      tool_latency_ms: 0,
      error: { type: 'PermissionError', source: 'policy', retryable: false, message: denied!.message },
    });
    expect(response!.metadata.result).toBeUndefined();
  });

  it('records one plain-object argument as inputs, anything else as args, redacted', async () => {
    h = createHarness();
    const one = h.alm.tool('one', (o: object) => o);
    const many = h.alm.tool('many', (..._a: unknown[]) => null);
    h.alm.run(() => {
      one({ query: 'otel', auth: { password: 'hunter2', token: 't' }, apiKey: 'k' });
      many('a', 1, { secret: 's' });
      many();
    });
    const requests = ofType(await h.flushEvents(), 'tool.request').map((e) => e.metadata.args);
    expect(requests).toEqual([
      {
        inputs: {
          query: 'otel',
          auth: { password: '***REDACTED***', token: '***REDACTED***' },
          apiKey: '***REDACTED***',
        },
      },
      { args: ['a', 1, { secret: '***REDACTED***' }] },
      // As the reference, which binds no arguments to no parameters.
      { inputs: {} },
    ]);
  });

  it('records results (redacted) only on success and only when not null', async () => {
    h = createHarness();
    const creds = h.alm.tool('creds', () => ({ user: 'u', api_key: 'k' }));
    const nothing = h.alm.tool('nothing', () => null);
    h.alm.run(() => {
      creds();
      nothing();
    });
    const responses = ofType(await h.flushEvents(), 'tool.response');
    expect(responses[0]!.metadata.result).toEqual({ user: 'u', api_key: '***REDACTED***' });
    expect('result' in responses[1]!.metadata).toBe(false);
  });

  it('survives hostile arguments, results and thrown values, with bounded events', async () => {
    h = createHarness({ alm: { captureToolContent: true } });
    const circular: Record<string, unknown> = { name: 'loop' };
    circular.self = circular;
    let deep: Record<string, unknown> = {};
    const root = deep;
    for (let i = 0; i < 5000; i++) deep = deep.next = {};
    const hostileGetter = Object.defineProperty({}, 'boom', {
      enumerable: true,
      get() {
        throw new Error('getter exploded');
      },
    });
    const trap = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error('no keys for you');
        },
      },
    );
    const args = [
      circular,
      10n ** 30n,
      () => 1,
      Symbol('s'),
      Buffer.alloc(1024 * 1024),
      new Map<unknown, unknown>([
        ['password', 'x'],
        [{ k: 1 }, 'v'],
      ]),
      new Set([1, 2]),
      new Date(0),
      new TypeError('bad'),
      root,
      'x'.repeat(1024 * 1024),
      Array.from({ length: 1_000_000 }, (_, i) => i),
      hostileGetter,
      trap,
      NaN,
    ];
    const echo = h.alm.tool('echo', (...a: unknown[]) => a);
    const weirdError = Object.defineProperty({}, 'message', {
      get() {
        throw new Error('message getter exploded');
      },
    });
    const throwsWeird = h.alm.tool('weird', () => {
      throw weirdError;
    });
    let caught: unknown;
    const out = h.alm.run(() => {
      try {
        throwsWeird();
      } catch (error) {
        caught = error;
      }
      return echo(...args);
    });
    expect(caught).toBe(weirdError);
    expect(out).toEqual(args); // the tool's own return value came back untouched
    expect((out as unknown[])[0]).toBe(circular);
    const events = await h.flushEvents();
    expect(h.errors).toEqual([]);
    for (const e of events) expect(JSON.stringify(e).length).toBeLessThan(200_000);
    const [request] = ofType(events, 'tool.request').filter((e) => e.metadata.tool_name === 'echo');
    const recorded = (request!.metadata.args as { args: unknown[] }).args;
    expect(recorded[0]).toEqual({ name: 'loop', self: '[Circular]' });
    expect(recorded[1]).toBe('1000000000000000000000000000000n');
    expect(recorded[2]).toMatch(/^\[Function/);
    expect(recorded[3]).toBe('Symbol(s)');
    expect(recorded[4]).toBe('[Buffer: 1048576 bytes]');
    expect(recorded[5]).toEqual({ password: '***REDACTED***', '[Object]': 'v' }); // non-string Map keys are summarised
    expect(recorded[6]).toEqual([1, 2]);
    expect(recorded[7]).toBe('1970-01-01T00:00:00.000Z');
    expect(recorded[8]).toEqual({ type: 'TypeError', message: 'bad' });
    expect(JSON.stringify(recorded[9])).toContain('[Object]');
    expect(recorded[10]).toBe('x'.repeat(1000) + '... (truncated)');
    expect((recorded[11] as unknown[]).length).toBeLessThanOrEqual(101);
    expect(recorded[12]).toEqual({ boom: '[Unreadable]' });
    expect(recorded[13]).toBe('[Unreadable]');
    expect(recorded[14]).toBe('NaN');
    const weird = ofType(events, 'tool.response').find((e) => e.metadata.tool_name === 'weird')!;
    expect(weird.metadata.error).toMatchObject({ type: 'Object', source: 'tool' });
    // On the span too, as bounded JSON text.
    const span = h.spans().find((s) => s.name === 'execute_tool echo')!;
    expect(String(span.attributes['gen_ai.tool.call.arguments']).length).toBeLessThan(200_000);
  });

  it('keeps the agent going when the sink throws or rejects, reporting through onError', async () => {
    for (const sink of [
      () => {
        throw new Error('sink down');
      },
      () => Promise.reject(new Error('sink down')),
    ]) {
      h = createHarness({ alm: { events: { sink, flushIntervalMs: 5, shutdownTimeoutMs: 50 } } });
      const t = h.alm.tool('t', () => 'fine');
      expect(h.alm.run(() => t())).toBe('fine');
      await h.alm.flush();
      // A function sink's throw is retried with backoff (docs/delivery.md), the events kept meanwhile.
      expect(h.errors.map((e) => [e.name, e.message])).toEqual([
        [
          'ALMDeliveryError',
          'event sink function failed for 5 events: sink down; retrying with backoff, 5 events kept',
        ],
      ]);
      expect(h.alm.stats()).toMatchObject({ emitted: 5, delivered: 0, failed: 0, queued: 5 });
      await h.close();
    }
    h = createHarness();
  });

  it('reports a throwing onError nowhere and carries on', async () => {
    h = createHarness({
      alm: {
        events: { sink: () => Promise.reject(new Error('down')), flushIntervalMs: 5, shutdownTimeoutMs: 50 },
        onError: () => {
          throw new Error('onError itself is broken');
        },
      },
    });
    const t = h.alm.tool('t', () => 1);
    expect(h.alm.run(() => t())).toBe(1);
    await expect(h.alm.flush()).resolves.toBeUndefined();
  });

  it('rejects bad arguments to its own API with a TypeError', () => {
    h = createHarness();
    expect(() => h.alm.tool('', () => 1)).toThrow('alm.tool: name must be a non-empty string');
    expect(() => h.alm.tool('x', 'nope' as never)).toThrow("alm.tool('x'): expected a function, got string");
    expect(() => h.alm.run({ purpose: 'p' }, undefined as never)).toThrow('alm.run: expected a function to run');
    expect(() => h.alm.handoff({} as never)).toThrow('alm.handoff: toAgentId must be a non-empty string');
  });
});

describe('alm.tool and the program it observes', () => {
  it('leaves a rejection nobody awaits unhandled, as without alm: the process reports it and exits 1', async () => {
    for (const wrapped of [false, true]) {
      const { code, stderr } = await runNode(`
        import { ALM } from ALM_DIST;
        const alm = new ALM({ agentId: 'a', events: { sink: () => {}, flushOnExit: false } });
        const fetchPage = async () => { throw new Error('page gone'); };
        const tool = ${wrapped} ? alm.tool('fetch_page', fetchPage) : fetchPage;
        alm.run(() => { tool(); });
      `);
      expect(code).toBe(1);
      expect(stderr).toContain('page gone');
    }
  });
});
