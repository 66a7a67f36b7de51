/** Tool retries and timeouts: each attempt a call of its own under one tool_call_id; denials never retried. */
import { ToolDeniedError, ToolTimeoutError } from '../../src';
import { recordFromSpan } from '../../src/events/record';
import { createTestALM, type TestALM } from '../../src/testing';

class ConnectionError extends Error {
  override name = 'ConnectionError';
}

let alm: TestALM;
afterEach(() => alm?.shutdown());

/** A tool body that fails `failures` times with a retryable error, then returns 'ok'. */
function flaky(failures: number): { fn: (q: string) => string; calls: () => number } {
  let calls = 0;
  return {
    fn: (q: string) => {
      calls++;
      if (calls <= failures) throw new ConnectionError(`connection reset (${calls})`);
      return `ok ${q}`;
    },
    calls: () => calls,
  };
}

describe('retry', () => {
  it('a flaky tool failing twice then succeeding: three attempts under one tool_call_id', async () => {
    alm = createTestALM({ captureToolContent: true });
    const body = flaky(2);
    const search = alm.tool('search', body.fn, { retry: { maxAttempts: 3, initialDelayMs: 1 } });
    const result = await alm.run(() => search('otel'));
    expect(result).toBe('ok otel');
    expect(body.calls()).toBe(3);

    const requests = await alm.eventsOfType('tool.request');
    const decisions = await alm.eventsOfType('policy.decision');
    const responses = await alm.eventsOfType('tool.response');
    const ids = new Set([...requests, ...decisions, ...responses].map((e) => e.metadata.tool_call_id));
    expect(ids.size).toBe(1);
    expect(requests.map((e) => e.metadata.attempt)).toEqual([1, 2, 3]);
    expect(decisions.map((e) => [e.metadata.attempt, e.metadata.decision])).toEqual([
      [1, 'allow'],
      [2, 'allow'],
      [3, 'allow'],
    ]);
    expect(responses.map((e) => [e.metadata.attempt, e.metadata.retries, e.metadata.status])).toEqual([
      [1, 0, 'error'],
      [2, 1, 'error'],
      [3, 2, 'success'],
    ]);
    expect(responses[0]!.metadata.error).toMatchObject({ type: 'ConnectionError', retryable: true });
    const [end] = await alm.eventsOfType('run.end');
    expect(end!.metadata.summary.tool_calls).toEqual({ total: 3, allowed: 3, denied: 0, error: 2, retried: 2 });

    // Each attempt is its own span; the spans say which attempt they are, and read back the same.
    const spans = alm.spans().filter((s) => s.name === 'execute_tool search');
    expect(spans.map((s) => s.attributes['gen_ai.tool.call.id'])).toEqual(Array(3).fill([...ids][0]));
    expect(spans.map((s) => s.attributes['alm.tool.attempt'])).toEqual([undefined, 2, 3]);
    expect(spans.map((s) => recordFromSpan(s))).toMatchObject([
      { attempt: 1, retries: 0 },
      { attempt: 2, retries: 1 },
      { attempt: 3, retries: 2 },
    ]);
    expect(alm.spanTree()!.span.attributes['alm.run.tool_calls.retried']).toBe(2);
  });

  it('never retries a denial, and never asks retryOn about one', async () => {
    let asked = 0;
    alm = createTestALM({ policy: { deniedTools: ['rm'] } });
    const rm = alm.tool('rm', () => 'gone', {
      retry: { maxAttempts: 5, initialDelayMs: 1, retryOn: () => (asked++, true) },
    });
    await alm.run(() => expect(rm()).rejects.toBeInstanceOf(ToolDeniedError));
    expect(asked).toBe(0);
    const responses = await alm.eventsOfType('tool.response');
    expect(responses.map((e) => [e.metadata.attempt, e.metadata.status])).toEqual([[1, 'denied']]);
  });

  it('counts every attempt toward the budget: a retry past it is denied, not run', async () => {
    alm = createTestALM({ policy: { maxToolCallsPerRun: 2 } });
    const body = flaky(10);
    const tool = alm.tool('fetch', body.fn, { retry: { maxAttempts: 5, initialDelayMs: 1 } });
    const error = await alm.run(() => tool('x').catch((e: unknown) => e));
    expect(error).toBeInstanceOf(ToolDeniedError);
    expect((error as ToolDeniedError).reason).toBe('Budget exceeded: 2/2 tool calls');
    expect(body.calls()).toBe(2);
    const responses = await alm.eventsOfType('tool.response');
    expect(responses.map((e) => [e.metadata.attempt, e.metadata.status])).toEqual([
      [1, 'error'],
      [2, 'error'],
      [3, 'denied'],
    ]);
  });

  it('retries only retryable errors by default; retryOn decides otherwise; the last error stands', async () => {
    alm = createTestALM();
    let calls = 0;
    const broken = alm.tool(
      'broken',
      () => {
        calls++;
        throw new TypeError('bad input');
      },
      { retry: { initialDelayMs: 1 } },
    );
    await expect(broken()).rejects.toThrow('bad input');
    expect(calls).toBe(1);

    const seen: number[] = [];
    calls = 0;
    const picky = alm.tool(
      'picky',
      () => {
        calls++;
        throw new TypeError(`bad ${calls}`);
      },
      {
        retry: {
          maxAttempts: 3,
          initialDelayMs: 1,
          retryOn: (e, attempt) => (seen.push(attempt), e instanceof TypeError),
        },
      },
    );
    await expect(picky()).rejects.toThrow('bad 3'); // exhausted: the last attempt's error
    expect(seen).toEqual([1, 2]);

    const always = flaky(10);
    const down = alm.tool('down', always.fn, { retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 2 } });
    await expect(down('x')).rejects.toThrow('connection reset (3)');
    expect(always.calls()).toBe(3);
  });

  it('makes a sync tool return a promise; @alm.toolMethod takes the same options', async () => {
    alm = createTestALM();
    const sync = alm.tool('sync', flaky(1).fn, { retry: { initialDelayMs: 0 } });
    const pending = sync('a');
    expect(pending).toBeInstanceOf(Promise);
    expect(await pending).toBe('ok a');

    const body = flaky(1);
    class Agent {
      @alm.toolMethod('method', { retry: { initialDelayMs: 0 } })
      async method(q: string): Promise<string> {
        return body.fn(q);
      }
    }
    expect(await new Agent().method('b')).toBe('ok b');
    expect((await alm.eventsOfType('tool.response')).map((e) => e.metadata.attempt)).toEqual([1, 2, 1, 2]);
  });

  it('still retries (and still denies) with enabled: false, recording nothing', async () => {
    alm = createTestALM({ enabled: false, policy: { deniedTools: ['rm'] } });
    const body = flaky(2);
    const tool = alm.tool('t', body.fn, { retry: { initialDelayMs: 1 } });
    expect(await alm.run(() => tool('x'))).toBe('ok x');
    expect(body.calls()).toBe(3);
    await expect(alm.tool('rm', () => 1, { retry: {} })()).rejects.toBeInstanceOf(ToolDeniedError);
    expect(await alm.events()).toEqual([]);
    expect(alm.spans()).toEqual([]);
  });

  it('refuses bad options, naming the field', () => {
    alm = createTestALM();
    const fn = () => 1;
    expect(() => alm.tool('t', fn, { retry: { maxAttempts: 0 } })).toThrow(
      "alm.tool('t'): options.retry.maxAttempts must be a whole number ≥ 1",
    );
    expect(() => alm.tool('t', fn, { retry: { attempts: 3 } as never })).toThrow(
      "alm.tool('t'): options.retry.attempts is not an option",
    );
    expect(() => alm.tool('t', fn, { retry: { initialDelayMs: 50, maxDelayMs: 10 } })).toThrow(
      'options.retry.maxDelayMs must be at least initialDelayMs',
    );
    expect(() => alm.tool('t', fn, { retry: { retryOn: true } as never })).toThrow(
      'options.retry.retryOn must be a function',
    );
    expect(() => alm.tool('t', fn, { timeoutMs: 0 })).toThrow(
      "alm.tool('t'): options.timeoutMs must be a whole number ≥ 1",
    );
    expect(() => alm.tool('t', fn, { retries: 3 } as never)).toThrow('options.retries is not an option');
  });
});

describe('timeoutMs', () => {
  /** A tool that only ever settles when its attempt's signal aborts (or, from attempt `succeedFrom`, at once). */
  function hanging(succeedFrom = Infinity) {
    let attempt = 0;
    const signals: AbortSignal[] = [];
    const fn = async (q: string): Promise<string> => {
      attempt++;
      const signal = alm.signal()!;
      signals.push(signal);
      if (attempt >= succeedFrom) return `done ${q}`;
      return new Promise<string>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    };
    return { fn, signals };
  }

  it('abandons an attempt with a retryable ToolTimeoutError and aborts its signal', async () => {
    alm = createTestALM();
    const { fn, signals } = hanging();
    const slow = alm.tool('slow', fn, { timeoutMs: 20 });
    const error = await alm.run(() => slow('x').catch((e: unknown) => e));
    expect(error).toBeInstanceOf(ToolTimeoutError);
    expect(error).toMatchObject({ name: 'TimeoutError', toolName: 'slow', timeoutMs: 20 });
    expect((error as Error).message).toBe("Tool 'slow' timed out after 20 ms");
    expect(signals).toHaveLength(1);
    expect(signals[0]!.aborted).toBe(true);
    expect(signals[0]!.reason).toBe(error);
    const [response] = await alm.eventsOfType('tool.response');
    expect(response!.metadata).toMatchObject({
      status: 'error',
      error: { type: 'TimeoutError', message: "Tool 'slow' timed out after 20 ms", retryable: true },
    });
    expect(alm.signal()).toBeUndefined(); // outside a tool
  });

  it('with retry: a timed-out attempt is tried again, each with a fresh signal', async () => {
    alm = createTestALM();
    const { fn, signals } = hanging(2);
    const slow = alm.tool('slow', fn, { timeoutMs: 20, retry: { maxAttempts: 2, initialDelayMs: 1 } });
    expect(await alm.run(() => slow('y'))).toBe('done y');
    expect(signals.map((s) => s.aborted)).toEqual([true, false]);
    const responses = await alm.eventsOfType('tool.response');
    expect(responses.map((e) => [e.metadata.attempt, e.metadata.status, e.metadata.error?.type])).toEqual([
      [1, 'error', 'TimeoutError'],
      [2, 'success', undefined],
    ]);
  });

  it('leaves a tool that settles in time alone, and a sync tool as it is', async () => {
    alm = createTestALM();
    const quick = alm.tool('quick', async (n: number) => n * 2, { timeoutMs: 10_000 });
    expect(await quick(21)).toBe(42);
    const sync = alm.tool('sync', (n: number) => n + 1, { timeoutMs: 1 });
    expect(await sync(1)).toBe(2);
  });
});

describe('timeoutMs: an abandoned body that keeps running', () => {
  it('emits no event of its run after run.end: they are dropped and counted', async () => {
    alm = createTestALM();
    const lookup = alm.tool('lookup', (q: string) => `found ${q}`);
    let finished!: () => void;
    const done = new Promise<void>((resolve) => (finished = resolve));
    const slow = alm.tool(
      'slow',
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 40)); // past its deadline, and past run.end
        for (let i = 0; i < 5; i++) lookup(String(i));
        await alm.task({ type: 'late' }, async () => lookup('in a task'));
        alm.handoff({ toAgentId: 'other' });
        finished();
      },
      { timeoutMs: 10 },
    );
    await alm.run(() => slow().catch(() => undefined));
    await done;
    const events = await alm.events();
    const end = events.findIndex((e) => e.event_type === 'run.end');
    expect(end).toBe(events.length - 1);
    expect(events[end]!.metadata).toMatchObject({ summary: { tool_calls: { total: 1 } } });
    // 6 tool calls (3 events each), a task (2) and a handoff (1), dropped and counted.
    expect(alm.stats().dropped).toBe(6 * 3 + 2 + 1);
  });

  it('a timed-out attempt that never settles leaves no AsyncLocalStorage enabled after shutdown', async () => {
    const { ALM } = await import('../../src');
    const instance = new ALM({ agentId: 'a', events: { sink: 'none' } });
    const never = instance.tool('never', () => new Promise<never>(() => {}), { timeoutMs: 5 });
    await instance.run(() => never().catch(() => undefined));
    await instance.shutdown();
    const storage = (instance as unknown as { rt: { storage: { enabled?: boolean } } }).rt.storage;
    // Node's async_hooks-based AsyncLocalStorage (Node 20, 22) has `enabled`; 24's AsyncContextFrame costs nothing.
    if (storage.enabled !== undefined) expect(storage.enabled).toBe(false);
  });
});
