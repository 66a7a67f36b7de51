/**
 * Budgets for a fleet: scoped budgets (policy.budgets) in a real redis-server on 127.0.0.1, shared by
 * real worker processes; failMode when Redis stops; windows; the in-memory store.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { context, propagation } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { ALM, BudgetExceededError, ToolDeniedError, type ALMEvent, type ALMOptions } from '../../src';
import { MemoryStore } from '../../src/policy/store';
import { RedisStore } from '../../src/policy/redis-store';
import { RedisServer } from '../helpers/redis';
import { ROOT } from '../helpers/scripts';
import { startService } from '../helpers/service';

const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const WORKER = join(ROOT, 'test', 'fixtures', 'fleet', 'worker.ts');

interface WorkerResult {
  ran: number;
  refused: { budget: string; scope: string; key: string; limit: number; spent: number; window?: string }[];
  errors: string[];
}

function worker(url: string, args: string[], env: Record<string, string> = {}): Promise<WorkerResult> {
  return new Promise((resolve, reject) =>
    execFile(
      TSX,
      [WORKER, url, ...args],
      { env: { ...process.env, ...env }, timeout: 60_000 },
      (error, stdout, stderr) =>
        error
          ? reject(new Error(`${error.message}\n${stderr}`))
          : resolve(JSON.parse(stdout.trim().split('\n').pop()!)),
    ),
  );
}

/** Four workers, started together (tsx takes a moment to start: they wait for a common instant). */
function fleet(url: string, mode: string, n: number, env: Record<string, string>, sequential = false) {
  const startAt = String(Date.now() + 4000);
  return Promise.all(
    [0, 1, 2, 3].map(() => worker(url, [mode, String(n), startAt, ...(sequential ? ['sequential'] : [])], env)),
  );
}

let redis: RedisServer;
let prefix = 0;

beforeAll(async () => {
  redis = new RedisServer();
  await redis.start();
});

afterAll(async () => {
  await redis?.stop();
});

describe('a tenant budget shared by four processes through Redis', () => {
  test('tool calls: exactly 60 of 4 × 50 concurrent calls run; the others are refused naming the scope', async () => {
    const results = await fleet(redis.url, 'tool', 50, { FLEET_PREFIX: `t${++prefix}` });
    const ran = results.reduce((sum, r) => sum + r.ran, 0);
    const refused = results.flatMap((r) => r.refused);
    expect(results.flatMap((r) => r.errors)).toEqual([]);
    expect(ran).toBe(60);
    expect(refused).toHaveLength(140);
    for (const details of refused) {
      expect(details).toMatchObject({ budget: 'tool_calls', scope: 'tenant', key: 'acme', limit: 60, spent: 60 });
    }
  }, 90_000);

  test('model calls: exactly 60 of 4 × 50 concurrent alm.llm calls run', async () => {
    const results = await fleet(redis.url, 'llm', 50, { FLEET_PREFIX: `t${++prefix}` });
    expect(results.flatMap((r) => r.errors)).toEqual([]);
    expect(results.reduce((sum, r) => sum + r.ran, 0)).toBe(60);
    const refused = results.flatMap((r) => r.refused);
    expect(refused).toHaveLength(140);
    for (const details of refused) expect(details).toMatchObject({ budget: 'llm_calls', scope: 'tenant', key: 'acme' });
  }, 90_000);
});

describe('a per-user daily cost budget across four processes', () => {
  const costKey = async (p: string) => {
    const keys = await redis.command('KEYS', `{${p}}:user=u-42:1d:*:cost`);
    const key = keys.split('\r\n').find((line) => line.startsWith('{'))!;
    const value = await redis.command('GET', key);
    return Number(value.split('\r\n')[1]);
  };

  test('with declared maxima (input and output) it is never passed', async () => {
    const p = `c${++prefix}`;
    const results = await fleet(redis.url, 'cost', 20, { FLEET_PREFIX: p, FLEET_DECLARED: '1' });
    expect(results.flatMap((r) => r.errors)).toEqual([]);
    const ran = results.reduce((sum, r) => sum + r.ran, 0);
    // Each call reserves $0.003 (1000 in, 1000 out at $1 / $2 per million) and uses $0.002.
    expect(ran).toBeGreaterThan(0);
    const spent = await costKey(p);
    expect(spent).toBeCloseTo(ran * 0.002, 9);
    expect(spent).toBeLessThanOrEqual(0.01);
    for (const details of results.flatMap((r) => r.refused)) {
      expect(details).toMatchObject({ budget: 'cost', scope: 'user', key: 'u-42', window: '1d' });
    }
  }, 90_000);

  test('without them it is passed by at most the calls in flight when it was reached (here one per process)', async () => {
    const p = `c${++prefix}`;
    const results = await fleet(redis.url, 'cost', 20, { FLEET_PREFIX: p }, true);
    expect(results.flatMap((r) => r.errors)).toEqual([]);
    const spent = await costKey(p);
    expect(spent).toBeGreaterThanOrEqual(0.01);
    expect(spent).toBeLessThanOrEqual(0.01 + 4 * 0.002 + 1e-12);
  }, 90_000);
});

function fleetAgent(options: Partial<ALMOptions['policy']> & object, errors: Error[] = []): ALM {
  return new ALM({
    agentId: 'fleet-test',
    events: { sink: 'none' },
    onError: (e) => errors.push(e),
    policy: {
      store: { redis: redis.url, keyPrefix: `f${++prefix}`, timeoutMs: 300 },
      ...options,
    } as ALMOptions['policy'],
  });
}

describe('a run that crosses processes over HTTP', () => {
  afterEach(() => {
    propagation.disable();
    context.disable();
  });

  test("the second process's tools record under the first run's run_id and count toward its run budget in Redis", async () => {
    // The context manager and W3C propagation NodeSDK registers by default (the service runs NodeSDK itself).
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(
      new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
    );
    const keyPrefix = `x${++prefix}`;
    const alm = new ALM({
      agentId: 'caller',
      events: { sink: 'none' },
      policy: {
        budgets: [{ scope: 'run', maxToolCalls: 3 }],
        store: { redis: redis.url, keyPrefix, timeoutMs: 10_000 },
      },
    });
    const service = await startService(join(ROOT, 'test', 'fixtures', 'fleet', 'tool-service.cjs'), {
      REDIS_URL: redis.url,
      FLEET_PREFIX: keyPrefix,
    });
    const call = (path: string) => service.call<{ body: string; runId: string | null }>(path);
    try {
      let ran = 0;
      const local = alm.tool('local', async () => ++ran);
      const answers: { body: string; runId: string | null }[] = [];
      const runId = await alm.run({ labels: { tenant: 'acme' } }, async (run) => {
        await local();
        await local();
        for (const path of ['/a', '/b', '/c']) answers.push(await call(path));
        return run.runId;
      });
      expect(ran).toBe(2);
      // Two local calls and one remote one fill the run's budget of 3: the next two are refused there.
      expect(answers.map((a) => a.runId)).toEqual([runId, runId, runId]);
      expect(answers[0]!.body).toBe('found /a');
      expect(answers[1]!.body).toMatch(/^ToolDeniedError: .*Budget exceeded: 3\/3 tool calls \(run=/);
      expect(answers[2]!.body).toMatch(/^ToolDeniedError/);
      const { events } = await service.call<{ events: ALMEvent[] }>('/done');
      const requests = events.filter((e) => e.event_type === 'tool.request');
      expect(requests).toHaveLength(3);
      for (const e of requests) expect(e.run_id).toBe(runId);
    } finally {
      service.child.kill();
      await alm.shutdown();
    }
  }, 60_000);
});

describe('when Redis stops', () => {
  afterEach(async () => {
    if (!(await redis.ping())) await redis.start(redis.port);
  });

  test("failMode 'closed': refused within the timeout with an error that says the budget could not be checked; counting resumes", async () => {
    const alm = fleetAgent({ budgets: [{ scope: 'tenant', maxToolCalls: 3 }] });
    let ran = 0;
    const work = alm.tool('work', async () => ++ran);
    await alm.run({ labels: { tenant: 'acme' } }, async () => {
      await work();
      await redis.stop();
      const started = Date.now();
      const denied = await work().catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(2000);
      expect(denied).toBeInstanceOf(ToolDeniedError);
      expect((denied as ToolDeniedError).reason).toMatch(/the budget could not be checked/);
      await redis.start(redis.port);
      // The client reconnects by itself; shared counting resumes with the counter Redis kept (an
      // in-memory server: it restarts empty, so 3 more may run).
      let admitted = false;
      for (let i = 0; i < 50 && !admitted; i++) {
        admitted = await work().then(
          () => true,
          () => false,
        );
        if (!admitted) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(admitted).toBe(true);
    });
    expect(ran).toBeGreaterThanOrEqual(2);
    await alm.shutdown();
  }, 30_000);

  test("failMode 'open': calls run and onError is told once; after Redis is back, budgets are shared again", async () => {
    const errors: Error[] = [];
    const key = `f${++prefix}`;
    const alm = new ALM({
      agentId: 'fleet-test',
      events: { sink: 'none' },
      onError: (e) => errors.push(e),
      policy: {
        budgets: [{ scope: 'tenant', maxToolCalls: 100 }],
        store: { redis: redis.url, keyPrefix: key, timeoutMs: 300, failMode: 'open' },
      },
    });
    let ran = 0;
    const work = alm.tool('work', async () => ++ran);
    await alm.run({ labels: { tenant: 'acme' } }, async () => {
      await work();
      await redis.stop();
      for (let i = 0; i < 5; i++) await work();
      expect(ran).toBe(6);
      expect(errors.filter((e) => /failMode 'open'/.test(e.message))).toHaveLength(1);
      await redis.start(redis.port);
      for (let i = 0; i < 50; i++) {
        await work();
        const value = await redis.command('GET', `{${key}}:tenant=acme:all:tool_calls`);
        if (/\r\n\d/.test(value)) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    });
    const counted = await redis.command('GET', `{${key}}:tenant=acme:all:tool_calls`);
    expect(Number(counted.split('\r\n')[1])).toBeGreaterThanOrEqual(1);
    expect(errors.some((e) => /answers again/.test(e.message))).toBe(true);
    await alm.shutdown();
  }, 30_000);
});

describe('windows', () => {
  test('a budget with a short window admits again after the window passes; its keys expire', async () => {
    const key = `w${++prefix}`;
    const alm = new ALM({
      agentId: 'fleet-test',
      events: { sink: 'none' },
      policy: {
        budgets: [{ scope: 'user', window: '2s', maxToolCalls: 2 }],
        store: { redis: redis.url, keyPrefix: key },
      },
    });
    let ran = 0;
    const work = alm.tool('work', async () => ++ran);
    await alm.run({ labels: { user: 'u-1' } }, async () => {
      // Start just after a window boundary, so that the three calls share one window.
      await new Promise((resolve) => setTimeout(resolve, 2000 - (Date.now() % 2000) + 50));
      await work();
      await work();
      const denied = (await work().catch((e: unknown) => e)) as ToolDeniedError;
      expect(denied).toBeInstanceOf(ToolDeniedError);
      expect(denied.details).toMatchObject({ scope: 'user', key: 'u-1', window: '2s', limit: 2 });
      expect(denied.reason).toBe('Budget exceeded: 2/2 tool calls (user=u-1 per 2s)');
      await new Promise((resolve) => setTimeout(resolve, 2000));
      await work();
    });
    expect(ran).toBe(3);
    const ttl = await redis.command('PTTL', (await redis.command('KEYS', `{${key}}:*`)).split('\r\n')[2]!);
    const ms = Number(ttl.slice(1));
    expect(ms).toBeGreaterThan(0);
    expect(ms).toBeLessThanOrEqual(2000 + 60_000);
    await alm.shutdown();
  }, 30_000);

  test('the in-memory store: the same budgets in one process, synchronous, and expired windows dropped', () => {
    let now = 1_000_000;
    const store = new MemoryStore(() => now);
    const charge = { key: 'k', limit: 2, amount: 1, strict: true, ttlMs: 1000 };
    expect(store.admit([charge])).toEqual({ ok: true });
    expect(store.admit([charge])).toEqual({ ok: true });
    expect(store.admit([charge])).toEqual({ ok: false, index: 0, current: 2 });
    now += 1001;
    expect(store.admit([charge])).toEqual({ ok: true });
    now += 120_000;
    store.admit([{ ...charge, key: 'other' }]);
    expect(store.size).toBe(1);

    const alm = new ALM({
      agentId: 'one-process',
      events: { sink: 'none' },
      policy: { budgets: [{ scope: 'agent', maxToolCalls: 2 }] },
    });
    const sync = alm.tool('sync', (x: number) => x * 2);
    expect(sync(1)).toBe(2); // still synchronous: no shared store
    expect(alm.run(() => sync(2))).toBe(4);
    expect(() => sync(3)).toThrow(ToolDeniedError);
  });
});

describe('enabled: false', () => {
  test('scoped budgets and labels still hold; nothing is recorded', async () => {
    const alm = new ALM({
      agentId: 'off',
      enabled: false,
      events: { sink: 'none' },
      policy: {
        budgets: [
          { scope: 'tenant', maxToolCalls: 2 },
          { scope: 'user', maxLlmCalls: 1 },
        ],
      },
    });
    let ran = 0;
    const sync = alm.tool('sync', () => ++ran);
    await alm.run({ labels: { tenant: 'acme', user: 'u-1' } }, async () => {
      sync();
      sync();
      expect(() => sync()).toThrow(/Budget exceeded: 2\/2 tool calls \(tenant=acme\)/);
      await alm.llm({ provider: 'p', model: 'm' }, async () => 'ok');
      await expect(alm.llm({ provider: 'p', model: 'm' }, async () => 'no')).rejects.toBeInstanceOf(
        BudgetExceededError,
      );
    });
    // Another tenant has its own budget.
    await alm.run({ labels: { tenant: 'globex' } }, async () => sync());
    expect(ran).toBe(3);
    expect(alm.stats().emitted).toBe(0);
    await alm.shutdown();
  });
});

describe('configuration', () => {
  test('budgets and the store are checked at construction, naming the field', () => {
    const error = (policy: unknown) => {
      try {
        new ALM({ agentId: 'a', policy: policy as ALMOptions['policy'] });
      } catch (e) {
        return (e as Error).message;
      }
      return 'constructed';
    };
    expect(error({ budgets: [{ scope: 'tenant', window: '1 day', maxToolCalls: 1 }] })).toMatch(
      /policy\.budgets\[0\]\.window: must be a duration/,
    );
    expect(error({ budgets: [{ scope: 'tenant' }] })).toMatch(/policy\.budgets\[0\].*needs at least one of/);
    expect(error({ budgets: [{ scope: 'tenant', maxCostUsd: 1 }] })).toMatch(/policy\.prices: required/);
    expect(error({ store: { redis: 'http://redis:6379' } })).toMatch(/policy\.store\.redis: must be a redis:\/\//);
    expect(error({ store: { redis: redis.url, failMode: 'maybe' } })).toMatch(/policy\.store\.failMode/);
  });

  test('a client the application has (node-redis) is used as is, and not closed by alm-otel', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { createClient } = require('redis') as typeof import('redis');
    const client = createClient({ url: redis.url });
    await client.connect();
    const store = new RedisStore(
      { redis: client, failMode: 'closed', timeoutMs: 500, keyPrefix: `c${++prefix}` },
      () => {},
    );
    const charges = [{ key: 'k', limit: 1, amount: 1, strict: true, ttlMs: 0 }];
    expect(await store.admit(charges)).toEqual({ ok: true });
    expect(await store.admit(charges)).toEqual({ ok: false, index: 0, current: 1 });
    await store.close();
    expect(client.isOpen).toBe(true);
    await client.close();
  });

  test('model calls refused by a scoped budget never start, with BudgetExceededError naming the scope', async () => {
    const alm = fleetAgent({ budgets: [{ scope: 'tenant', maxLlmCalls: 1 }] });
    let started = 0;
    await alm.run({ labels: { tenant: 'acme' } }, async () => {
      await alm.llm({ provider: 'p', model: 'm' }, async () => ++started);
      const refused = await alm.llm({ provider: 'p', model: 'm' }, async () => ++started).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(BudgetExceededError);
      expect((refused as BudgetExceededError).details).toMatchObject({ scope: 'tenant', key: 'acme' });
    });
    expect(started).toBe(1);
    await alm.shutdown();
  });
});
