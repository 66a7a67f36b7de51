/**
 * Scoped budgets shared through Redis by every process and host that uses the same server.
 *
 * - Admission is one round trip: a Lua script checks every charge and takes them all, or none
 *   (Redis runs a script atomically), so counters are never above a strict limit across any number of
 *   processes. Model usage is settled afterwards with INCRBYFLOAT, without a check.
 * - Counters of a window expire with it (PEXPIRE set by the first charge): nothing grows without bound.
 * - Each command waits at most `timeoutMs`; an unreachable or slow Redis then follows `failMode`:
 *   'closed' refuses the call with BudgetStoreError ("the budget could not be checked"), 'open' lets
 *   it run, counted in this process, and tells onError once per outage. Shared counting resumes with
 *   the first command that succeeds again (what was counted locally meanwhile is not copied over).
 *
 * The client: a URL (alm-otel creates a node-redis client: the optional peer dependency `redis`), or
 * a client the application already has, node-redis (`sendCommand`) or ioredis (`call`), used as is and
 * never closed by alm-otel. All keys carry one hash tag (`{alm}` by default) so that a Redis Cluster
 * keeps them on one slot, as a multi-key script needs.
 */
import { createHash } from 'node:crypto';
import { ALMConfigError } from '../errors';
import type { ErrorReporter } from '../report';
import { MemoryStore, type Admission, type BudgetStore, type Change, type Charge } from './store';

/** A node-redis client (v4 and later), as far as alm-otel uses it. */
export interface NodeRedisClient {
  sendCommand(args: string[]): Promise<unknown>;
}
/** An ioredis client, as far as alm-otel uses it. */
export interface IoRedisClient {
  call(command: string, ...args: string[]): Promise<unknown>;
}
export type RedisClientLike = NodeRedisClient | IoRedisClient;

export type FailMode = 'closed' | 'open';

export interface RedisStoreOptions {
  redis: string | RedisClientLike;
  failMode: FailMode;
  timeoutMs: number;
  keyPrefix: string;
}

/** A budget that could not be checked: the shared store did not answer in time (failMode 'closed'). */
export class BudgetStoreError extends Error {
  override readonly name = 'BudgetStoreError';
}

const ADMIT_SCRIPT = `
local n = #KEYS
for i = 1, n do
  local base = (i - 1) * 4
  local current = tonumber(redis.call('GET', KEYS[i]) or '0')
  local limit = tonumber(ARGV[base + 1])
  local amount = tonumber(ARGV[base + 2])
  if (ARGV[base + 4] == '1' and current + amount > limit) or (ARGV[base + 4] ~= '1' and current >= limit) then
    return {i, tostring(current)}
  end
end
for i = 1, n do
  local base = (i - 1) * 4
  redis.call('INCRBYFLOAT', KEYS[i], ARGV[base + 2])
  local ttl = tonumber(ARGV[base + 3])
  if ttl > 0 and redis.call('PTTL', KEYS[i]) < 0 then redis.call('PEXPIRE', KEYS[i], ttl) end
end
return {0, ''}
`;
const ADMIT_SHA = createHash('sha1').update(ADMIT_SCRIPT).digest('hex');

const ADJUST_SCRIPT = `
for i = 1, #KEYS do
  redis.call('INCRBYFLOAT', KEYS[i], ARGV[(i - 1) * 2 + 1])
  local ttl = tonumber(ARGV[(i - 1) * 2 + 2])
  if ttl > 0 and redis.call('PTTL', KEYS[i]) < 0 then redis.call('PEXPIRE', KEYS[i], ttl) end
end
return 0
`;
const ADJUST_SHA = createHash('sha1').update(ADJUST_SCRIPT).digest('hex');

interface RedisModule {
  createClient(options: object): NodeRedisClient & {
    connect(): Promise<unknown>;
    on(event: string, listener: (error: unknown) => void): unknown;
    unref?(): void;
    destroy?(): void;
    quit?(): Promise<unknown>;
    close?(): Promise<unknown>;
  };
}

/** A node-redis client for a URL: reconnects on its own, fails commands at once while disconnected. */
function clientFor(
  url: string,
  report: ErrorReporter,
): { client: NodeRedisClient; connected: Promise<unknown>; close(): Promise<void> } {
  let redis: RedisModule;
  try {
    redis = require('redis') as RedisModule;
  } catch {
    throw new ALMConfigError([
      'policy.store.redis: a URL needs the node-redis client, which is not installed: npm install redis (or pass a client you have, node-redis or ioredis)',
    ]);
  }
  const client = redis.createClient({
    url,
    disableOfflineQueue: true,
    socket: { connectTimeout: 2000, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2000) },
  });
  // Connection errors are what failMode is for; the client retries by itself. Reported at most once a minute.
  let reportedAt = -Infinity;
  client.on('error', (error) => {
    if (Date.now() - reportedAt < 60_000) return;
    reportedAt = Date.now();
    report(new Error(`policy.store: Redis at ${redactUrl(url)}: ${(error as Error)?.message ?? String(error)}`));
  });
  // Commands wait for the first connection (within their time limit); after it, a client that lost
  // its connection fails them at once (disableOfflineQueue), which is what failMode is for.
  const connected = client.connect().catch(() => undefined);
  client.unref?.();
  return {
    client,
    connected,
    async close() {
      try {
        if (client.close) await client.close();
        else if (client.quit) await client.quit();
      } catch {
        client.destroy?.();
      }
    },
  };
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.href;
  } catch {
    return 'redis';
  }
}

export class RedisStore implements BudgetStore {
  readonly shared = true;
  private readonly send: (args: string[]) => Promise<unknown>;
  private readonly ownClose: (() => Promise<void>) | undefined;
  /** The first connection of a client alm-otel made, until it is made. */
  private connecting: Promise<unknown> | undefined;
  /** failMode 'open': counted here while Redis does not answer. */
  private readonly local = new MemoryStore();
  private outage = false;

  constructor(
    private readonly options: RedisStoreOptions,
    private readonly report: ErrorReporter,
  ) {
    const given = options.redis;
    if (typeof given === 'string') {
      const { client, connected, close } = clientFor(given, report);
      this.send = (args) => client.sendCommand(args);
      this.ownClose = close;
      this.connecting = connected;
      void connected.then(() => (this.connecting = undefined));
    } else if (typeof (given as NodeRedisClient).sendCommand === 'function') {
      this.send = (args) => (given as NodeRedisClient).sendCommand(args);
    } else {
      this.send = ([command, ...args]) => (given as IoRedisClient).call(command!, ...args);
    }
  }

  /** The keys' namespace: one hash tag, so that a cluster keeps every key on one slot. */
  key(name: string): string {
    return `{${this.options.keyPrefix}}:${name}`;
  }

  private async command(args: string[]): Promise<unknown> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${this.options.timeoutMs} ms`)),
        this.options.timeoutMs,
      );
      timer.unref?.();
    });
    try {
      if (this.connecting !== undefined) await Promise.race([this.connecting, timeout]);
      return await Promise.race([this.send(args), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** A script by its SHA, loaded with EVAL the first time a server does not know it. */
  private async script(sha: string, source: string, keys: string[], args: string[]): Promise<unknown> {
    const tail = [String(keys.length), ...keys, ...args];
    try {
      return await this.command(['EVALSHA', sha, ...tail]);
    } catch (error) {
      if (!/NOSCRIPT/i.test(String((error as Error)?.message ?? error))) throw error;
      return this.command(['EVAL', source, ...tail]);
    }
  }

  /** Redis did not answer: 'closed' throws, 'open' tells onError once per outage and counts here. */
  private unavailable(error: unknown): void {
    const why = (error as Error)?.message ?? String(error);
    if (this.options.failMode === 'closed') {
      throw new BudgetStoreError(`the budget could not be checked: Redis did not answer (${why})`);
    }
    if (!this.outage) {
      this.outage = true;
      this.report(
        new Error(
          `policy.store: Redis did not answer (${why}); failMode 'open': calls run, counted in this process only`,
        ),
      );
    }
  }

  private recovered(): void {
    if (!this.outage) return;
    this.outage = false;
    this.report(new Error('policy.store: Redis answers again; budgets are shared again'));
  }

  async admit(charges: readonly Charge[]): Promise<Admission> {
    const keys = charges.map((c) => this.key(c.key));
    const args: string[] = [];
    for (const c of charges)
      args.push(String(c.limit), String(c.amount), String(Math.ceil(c.ttlMs)), c.strict ? '1' : '0');
    let reply: unknown;
    try {
      reply = await this.script(ADMIT_SHA, ADMIT_SCRIPT, keys, args);
    } catch (error) {
      this.unavailable(error);
      return this.local.admit(charges);
    }
    this.recovered();
    const [index, current] = reply as [number | string, string];
    const i = Number(index);
    return i === 0 ? { ok: true } : { ok: false, index: i - 1, current: Number(current) };
  }

  async adjust(changes: readonly Change[]): Promise<void> {
    if (changes.length === 0) return;
    const keys = changes.map((c) => this.key(c.key));
    const args: string[] = [];
    for (const c of changes) args.push(String(c.delta), String(Math.ceil(c.ttlMs)));
    try {
      await this.script(ADJUST_SHA, ADJUST_SCRIPT, keys, args);
      this.recovered();
    } catch (error) {
      // A settlement that cannot reach Redis is not a decision: counted here, and onError told.
      this.local.adjust(changes);
      if (!this.outage) {
        this.outage = true;
        this.report(
          new Error(`policy.store: a usage update did not reach Redis (${(error as Error)?.message ?? error})`),
        );
      }
    }
  }

  async read(keys: readonly string[]): Promise<number[]> {
    if (keys.length === 0) return [];
    try {
      const values = (await this.command(['MGET', ...keys.map((k) => this.key(k))])) as (string | null)[];
      return values.map((v) => (v === null ? 0 : Number(v)));
    } catch {
      return this.local.read(keys);
    }
  }

  async close(): Promise<void> {
    await this.ownClose?.();
  }
}
