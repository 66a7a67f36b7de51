/**
 * Delivery to a real HTTP receiver on 127.0.0.1 under faults: every emitted event_id arrives by the
 * end of shutdown(), whatever the receiver does in between.
 */
import { inspect } from 'node:util';
import { ALM, ALMConfigError, type ALMEvent, type ALMOptions } from '../../src';
import { sleep, validated } from '../helpers/harness';
import { Receiver, freePort } from '../helpers/receiver';

const FAST_RETRY = { retryInitialDelayMs: 20, retryMaxDelayMs: 200 };

function agentFor(receiver: Receiver, errors: Error[], events: Partial<NonNullable<ALMOptions['events']>> = {}): ALM {
  return new ALM({
    agentId: 'delivery-agent',
    events: {
      sink: 'http',
      endpoint: receiver.url,
      apiKey: 'sk-test-secret',
      flushIntervalMs: 10,
      batchSize: 10,
      flushOnExit: false,
      ...FAST_RETRY,
      ...events,
    },
    onError: (error) => errors.push(error),
  });
}

/** A few runs with allowed, denied and failing tool calls. */
async function work(alm: ALM, runs = 5): Promise<void> {
  const ok = alm.tool('ok', async (n: number) => n);
  const bad = alm.tool('bad', () => {
    throw new Error('tool failed');
  });
  for (let r = 0; r < runs; r++) {
    await alm.run({ purpose: `run ${r}` }, async () => {
      await ok(r);
      await alm.task({ type: 't' }, () => ok(r + 1));
      try {
        bad();
      } catch {
        // expected
      }
    });
  }
}

/** Everything emitted reached the receiver, and the counters agree. */
function expectAllArrived(alm: ALM, receiver: Receiver): void {
  const stats = alm.stats();
  expect(stats.emitted).toBeGreaterThan(0);
  expect(receiver.events.size).toBe(stats.emitted);
  expect(stats).toMatchObject({ delivered: stats.emitted, failed: 0, dropped: 0, queued: 0 });
  validated([...receiver.events.values()]);
}

describe('http delivery under faults', () => {
  let receiver: Receiver;
  let errors: Error[];
  beforeEach(() => {
    receiver = new Receiver();
    errors = [];
  });
  afterEach(() => receiver.stop());

  it('posts batches to {endpoint}/v1/events with the bearer key and JSON body, over kept-alive connections', async () => {
    await receiver.start(0);
    const alm = agentFor(receiver, errors, { maxBatchSize: 10 });
    await work(alm, 3);
    await alm.shutdown();
    expectAllArrived(alm, receiver);
    expect(receiver.requests.length).toBeGreaterThan(3);
    expect(receiver.connections).toBeLessThan(receiver.requests.length); // connections are reused
    for (const r of receiver.requests) {
      expect(r.authorization).toBe('Bearer sk-test-secret');
      expect(r.contentType).toBe('application/json');
      expect(r.count).toBeLessThanOrEqual(10);
      // A body of known length, not a chunked stream.
      expect(r.transferEncoding).toBeUndefined();
      expect(r.contentLength).toBe(String(r.bytes));
    }
    expect(errors).toEqual([]);
  });

  it.each([301, 302, 303, 307, 308])(
    'a %i redirect is not followed: the batch is set aside and onError names where it points',
    async (status) => {
      await receiver.start(0);
      receiver.fallback = () => ({
        kind: 'status',
        status,
        headers: { location: `${receiver.url}/moved?key=sk-test-secret` },
      });
      const alm = agentFor(receiver, errors);
      await work(alm, 2);
      await alm.shutdown();
      const stats = alm.stats();
      // Never counted delivered: a followed 301/302/303 would have been a GET without the events, answered 200.
      expect(stats).toMatchObject({ delivered: 0, failed: stats.emitted, retried: 0, queued: 0 });
      expect(receiver.requests.every((r) => r.method === 'POST' && r.url === '/v1/events')).toBe(true);
      expect(receiver.requests.reduce((n, r) => n + r.count, 0)).toBe(stats.emitted);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ name: 'ALMDeliveryError', status, retryable: false });
      expect(errors[0]!.message).toContain(`answered ${status}, a redirect to ${receiver.url}/moved?key=***`);
      expect(errors[0]!.message).not.toContain('sk-test-secret');
    },
  );

  it('receiver down at start and up a few seconds later: nothing is lost', async () => {
    receiver.port = await freePort();
    const alm = agentFor(receiver, errors);
    await work(alm);
    await alm.flush(); // fails: nobody listens
    expect(alm.stats().queued).toBe(alm.stats().emitted);
    setTimeout(() => void receiver.start(), 2000);
    await alm.shutdown();
    expectAllArrived(alm, receiver);
    expect(alm.stats().retried).toBeGreaterThan(0);
    // Told once that delivery is failing, with what happened, and nothing about the key.
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(
      /^POST http:\/\/127\.0\.0\.1:\d+\/v1\/events failed: .*ECONNREFUSED.*retrying with backoff/,
    );
  });

  it('a run of 503s', async () => {
    await receiver.start(0);
    for (let i = 0; i < 6; i++) receiver.script.push({ kind: 'status', status: 503, body: 'overloaded' });
    const alm = agentFor(receiver, errors);
    await work(alm);
    await alm.shutdown();
    expectAllArrived(alm, receiver);
    expect(receiver.requests.slice(0, 6).map((r) => r.answered)).toEqual(Array(6).fill('503'));
    expect(errors.map((e) => e.message)).toEqual([
      expect.stringMatching(/answered 503: overloaded .*retrying with backoff/),
    ]);
  });

  it('429 with Retry-After is honoured', async () => {
    await receiver.start(0);
    receiver.script.push({ kind: 'status', status: 429, headers: { 'retry-after': '1' } });
    const alm = agentFor(receiver, errors, { retryInitialDelayMs: 10, retryMaxDelayMs: 5000 });
    await work(alm, 1);
    await alm.shutdown();
    expectAllArrived(alm, receiver);
    const [first, second] = receiver.requests;
    expect(first!.answered).toBe('429');
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(950); // waited as asked, not the 10 ms backoff
  });

  it('connections reset mid-request', async () => {
    await receiver.start(0);
    receiver.script.push({ kind: 'reset' }, { kind: 'reset' }, { kind: 'reset' });
    const alm = agentFor(receiver, errors);
    await work(alm);
    await alm.shutdown();
    expectAllArrived(alm, receiver);
    expect(receiver.requests.slice(0, 3).map((r) => r.answered)).toEqual(['reset', 'reset', 'reset']);
  });

  it('a request that hangs past timeoutMs is abandoned and retried', async () => {
    await receiver.start(0);
    receiver.script.push({ kind: 'hang' });
    const alm = agentFor(receiver, errors, { timeoutMs: 300 });
    await work(alm, 2);
    await alm.shutdown();
    expectAllArrived(alm, receiver);
    expect(receiver.requests[0]!.answered).toBe('hang');
    expect(errors[0]!.message).toMatch(/no answer within 300 ms/);
  });

  it("the agent's calls complete while the receiver hangs", async () => {
    await receiver.start(0);
    receiver.fallback = () => ({ kind: 'hang' });
    const alm = agentFor(receiver, errors, { timeoutMs: 60_000 });
    await work(alm, 20); // 20 runs, 60 tool calls: all done although every request hangs
    for (let i = 0; i < 200 && receiver.hangingCount === 0; i++) await sleep(10);
    expect(receiver.hangingCount).toBeGreaterThan(0);
    expect(receiver.events.size).toBe(0);
    receiver.fallback = () => ({ kind: 'ok' });
    receiver.release();
    await alm.shutdown();
    expectAllArrived(alm, receiver);
  });

  it('401 is reported once through onError and the batch set aside, not retried forever', async () => {
    await receiver.start(0);
    receiver.fallback = () => ({ kind: 'status', status: 401, body: '{"error":"bad key sk-test-secret"}' });
    const alm = agentFor(receiver, errors);
    await work(alm, 3);
    await alm.shutdown();
    const stats = alm.stats();
    expect(stats).toMatchObject({ delivered: 0, failed: stats.emitted, retried: 0, queued: 0 });
    // One request per batch: nothing was sent twice.
    expect(receiver.requests.reduce((n, r) => n + r.count, 0)).toBe(stats.emitted);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ name: 'ALMDeliveryError', status: 401, retryable: false });
    // The receiver echoed the key; the message does not.
    expect(errors[0]!.message).toMatch(/answered 401: \{"error":"bad key \*\*\*"\}/);
    expect(errors[0]!.message).not.toContain('sk-test-secret');
  });

  it('scrubs the key from an echoed body even where the excerpt would cut it', async () => {
    await receiver.start(0);
    receiver.fallback = () => ({
      kind: 'status',
      status: 400,
      body: `${'x'.repeat(188)} Bearer sk-test-secret (also "sk-test-secret" and sk-test-secret)`,
    });
    const alm = agentFor(receiver, errors);
    await work(alm, 1);
    await alm.shutdown();
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).not.toMatch(/sk-test|sk-t|sk-/);
  });

  it('scrubs the key from any echo form: escaped slashes, lower-case percent-encoding, \\u escapes, HTML references', async () => {
    const key = 'sk-live/Ab+C=d';
    const forms = [
      JSON.stringify(key).slice(1, -1).replace(/\//g, '\\/'), // sk-live\/Ab+C=d
      encodeURIComponent(key)
        .toLowerCase()
        .replace(/%[0-9a-f]{2}/g, (m) => m.toLowerCase()),
      [...key].map((c) => (/[a-z]/i.test(c) ? c : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)).join(''),
      [...key].map((c) => `&#${c.charCodeAt(0)};`).join(''),
      encodeURIComponent(encodeURIComponent(key)),
      key.toUpperCase(),
    ];
    await receiver.start(0);
    receiver.fallback = () => ({ kind: 'status', status: 401, body: `{"echo":"${forms.join(' | ')}"}` });
    const alm = new ALM({
      agentId: 'delivery-agent',
      events: { sink: 'http', endpoint: receiver.url, apiKey: key, flushOnExit: false },
      onError: (error) => errors.push(error),
    });
    await work(alm, 1);
    await alm.shutdown();
    expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/answered 401: .*\*\*\*/)]);
    for (const error of errors) {
      for (const needle of ['sk-live', 'sk\\u002dlive', 'sk%2dlive', 'SK-LIVE', 'Ab+C', '&#115;&#107;', 'sk%252d']) {
        expect(error.message.toLowerCase()).not.toContain(needle.toLowerCase());
      }
    }
  });

  it('keeps the key out of messages when it is in the endpoint query too, and out of inspect() and JSON', async () => {
    const port = await freePort(); // nothing listens: every attempt fails with the URL in the message
    const key = 'sk-query-secret';
    const alm = new ALM({
      agentId: 'delivery-agent',
      events: {
        sink: 'http',
        endpoint: `http://127.0.0.1:${port}/ingest?tenant=a&key=${key}`,
        apiKey: key,
        flushOnExit: false,
        shutdownTimeoutMs: 300,
        ...FAST_RETRY,
      },
      onError: (error) => errors.push(error),
    });
    await work(alm, 1);
    await alm.shutdown();
    expect(errors.some((e) => e.message.includes('POST http://127.0.0.1:'))).toBe(true);
    for (const error of errors) {
      if (error.message.includes('POST')) expect(error.message).toContain('/ingest/v1/events?tenant=a&key=***');
      expect(error.message).not.toContain(key);
    }
    for (const shown of [inspect(alm, { depth: Infinity, showHidden: true }), JSON.stringify(alm), String(alm)]) {
      expect(shown).not.toContain(key);
      expect(shown).not.toMatch(/bearer|authorization/i);
    }
    expect(inspect(alm)).toBe("ALM { agentId: 'delivery-agent', env: 'development' }");
    expect(inspect(alm.spanProcessors, { depth: Infinity, showHidden: true })).not.toContain(key);
  });

  it('appends /v1/events to the endpoint path and keeps its query string', async () => {
    await receiver.start(0);
    const alm = agentFor(receiver, errors, { endpoint: `${receiver.url}/ingest/?tenant=a` });
    await work(alm, 1);
    await alm.shutdown();
    expect(new Set(receiver.requests.map((r) => r.url))).toEqual(new Set(['/ingest/v1/events?tenant=a']));
    expectAllArrived(alm, receiver);
  });

  it.each([400, 422])('%i for one bad event sets aside only that event, found by splitting', async (status) => {
    await receiver.start(0);
    const isPoison = (e: ALMEvent) => JSON.stringify(e.metadata).includes('poison');
    receiver.fallback = (events) =>
      events.some(isPoison) ? { kind: 'status', status, body: 'invalid event' } : { kind: 'ok' };
    const alm = agentFor(receiver, errors, { batchSize: 20, flushIntervalMs: 50 });
    const ok = alm.tool('ok', (x: string) => x);
    alm.run(() => {
      for (let i = 0; i < 30; i++) ok(i === 17 ? 'poison' : `fine ${i}`);
    });
    await alm.shutdown();
    const stats = alm.stats();
    // The poisoned call's tool.request and tool.response are rejected; nothing else is.
    expect(stats).toMatchObject({ emitted: 92, failed: 2, delivered: 90, dropped: 0, queued: 0 });
    expect(receiver.events.size).toBe(90);
    expect([...receiver.events.values()].some(isPoison)).toBe(false);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ name: 'ALMDeliveryError', status, retryable: false });
  });

  it('413 splits the batch until it fits', async () => {
    await receiver.start(0);
    receiver.fallback = (events) => (events.length > 3 ? { kind: 'status', status: 413 } : { kind: 'ok' });
    const alm = agentFor(receiver, errors, { batchSize: 20 });
    await work(alm, 3);
    await alm.shutdown();
    expectAllArrived(alm, receiver);
    expect(receiver.requests.filter((r) => r.answered === 'ok').every((r) => r.count <= 3)).toBe(true);
    expect(errors).toEqual([]);
  });

  it('shutdown gives up after shutdownTimeoutMs and reports what could not be sent', async () => {
    receiver.port = await freePort();
    const alm = agentFor(receiver, errors, { shutdownTimeoutMs: 300 });
    await work(alm, 1);
    await alm.shutdown();
    const stats = alm.stats();
    expect(stats).toMatchObject({ delivered: 0, failed: stats.emitted, queued: 0 });
    expect(errors.at(-1)!.message).toBe(
      `${stats.emitted} events could not be delivered within shutdownTimeoutMs (300 ms); they are lost`,
    );
  });

  it('a full queue during an outage drops the oldest non-lifecycle events, counted exactly, memory bounded', async () => {
    receiver.port = await freePort();
    const alm = agentFor(receiver, errors, {
      maxQueueSize: 50,
      batchSize: 5,
      retryInitialDelayMs: 60_000,
      retryMaxDelayMs: 60_000,
    });
    await work(alm, 20); // 20 runs × 13 events = 260 events
    await alm.flush();
    const during = alm.stats();
    expect(during.emitted).toBe(260);
    expect(during.queued).toBeLessThanOrEqual(50);
    expect(during.dropped).toBe(during.emitted - during.queued);
    expect(errors.filter((e) => e.message.startsWith('event queue full'))).toHaveLength(1);
    await receiver.start();
    await alm.flush();
    await alm.shutdown();
    const after = alm.stats();
    expect(after.delivered + after.dropped).toBe(after.emitted);
    expect(receiver.events.size).toBe(after.delivered);
    // The run boundaries survived: 40 of the 50 kept events are run.start/run.end.
    const kinds = [...receiver.events.values()].map((e) => e.event_type);
    expect(kinds.filter((k) => k === 'run.start' || k === 'run.end')).toHaveLength(40);
  });
});

describe('http sink configuration', () => {
  it('refuses credentials in the endpoint URL', () => {
    expect(
      () => new ALM({ agentId: 'a', events: { sink: 'http', endpoint: 'https://user:pw@ingest.example.com' } }),
    ).toThrow('events.endpoint: must not contain credentials: pass the key as events.apiKey (sent as a bearer token)');
  });

  it('refuses to send a key over plain http to a non-loopback host, unless allowed', () => {
    const options = {
      agentId: 'a',
      events: { sink: 'http' as const, endpoint: 'http://ingest.example.com', apiKey: 'k' },
    };
    expect(() => new ALM(options)).toThrow(ALMConfigError);
    expect(() => new ALM(options)).toThrow(
      'events.endpoint: refusing to send the API key over plain http:// to ingest.example.com: use https://, or set events.allowInsecure: true',
    );
    expect(
      () => new ALM({ ...options, events: { ...options.events, allowInsecure: true, flushOnExit: false } }),
    ).not.toThrow();
    expect(
      () =>
        new ALM({
          agentId: 'a',
          events: { ...options.events, endpoint: 'https://ingest.example.com', flushOnExit: false },
        }),
    ).not.toThrow();
    expect(
      () =>
        new ALM({ agentId: 'a', events: { ...options.events, endpoint: 'http://localhost:8080', flushOnExit: false } }),
    ).not.toThrow();
  });
});

describe('large error answers', () => {
  it('reads only a bounded excerpt of a 50 MB error body, scrubbed, and never buffers the rest', async () => {
    const { createServer } = await import('node:http');
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const total = 50 * 1024 * 1024;
    let sent = 0;
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(503, { 'content-length': String(total) });
        res.write('sk-test-secret is wrong ');
        const more = () => {
          while (sent < total - chunk.length && !res.destroyed) {
            sent += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', more);
          }
          if (!res.destroyed) res.end(Buffer.alloc(total - sent - 24, 'x'));
        };
        res.on('close', () => res.removeAllListeners('drain'));
        more();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as import('node:net').AddressInfo;
    const { HttpSink } = await import('../../src/sinks/http');
    const sink = new HttpSink({ endpoint: `http://127.0.0.1:${port}`, apiKey: 'sk-test-secret', timeoutMs: 10_000 });
    const started = Date.now();
    const error = await sink.write([]).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    const took = Date.now() - started;
    await sleep(200); // what the server managed to push after the client went
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    expect(error).toMatchObject({ name: 'ALMDeliveryError', status: 503, retryable: true });
    expect(error!.message).toContain('answered 503: *** is wrong xxx');
    expect(error!.message).not.toContain('sk-test');
    // The client stopped reading after the excerpt: the server could not push more than socket buffers hold.
    expect(sent).toBeLessThan(8 * 1024 * 1024);
    expect(took).toBeLessThan(2000);
  });
});
