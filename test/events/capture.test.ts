import {
  MAX_CAPTURE_CHARS,
  MAX_DEPTH,
  MAX_ITEMS,
  REDACTED,
  captureArguments,
  captureValue,
  isSensitiveKey,
  safeJson,
} from '../../src/events/capture';

describe('captureValue', () => {
  it('redacts the reference list of key fragments at any depth, case-insensitively', () => {
    for (const key of ['password', 'Token', 'api_key', 'APIKEY', 'client_secret', 'key', 'monkey']) {
      expect(isSensitiveKey(key)).toBe(true);
    }
    expect(isSensitiveKey('query')).toBe(false);
    expect(captureValue({ a: [{ b: { PASSWORD: 'p', ok: 1 } }] })).toEqual({
      a: [{ b: { PASSWORD: REDACTED, ok: 1 } }],
    });
  });

  it('truncates strings over 1000 characters as the reference does', () => {
    expect(captureValue('a'.repeat(1000))).toBe('a'.repeat(1000));
    expect(captureValue('a'.repeat(1001))).toBe('a'.repeat(1000) + '... (truncated)');
  });

  it('limits depth, items and total size', () => {
    let nested: unknown = 'bottom';
    for (let i = 0; i < 50; i++) nested = [nested];
    expect(JSON.stringify(captureValue(nested))).toBe('['.repeat(MAX_DEPTH) + '"[Array]"' + ']'.repeat(MAX_DEPTH));
    const big = captureValue(Array.from({ length: 500 }, (_, i) => i)) as unknown[];
    expect(big).toHaveLength(MAX_ITEMS + 1);
    expect(big[MAX_ITEMS]).toBe('... (400 more items)');
    const wide = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`k${i}`, i]));
    expect(Object.keys(captureValue(wide) as object)).toHaveLength(MAX_ITEMS + 1);
    const heavy = Array.from({ length: 100 }, () => 'x'.repeat(5000));
    expect(JSON.stringify(captureValue(heavy)).length).toBeLessThan(MAX_CAPTURE_CHARS + 2000);
  });

  it('never throws, whatever it is given', () => {
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    const values: unknown[] = [
      revoked.proxy,
      Object.create(null),
      new WeakMap(),
      Promise.resolve(1),
      /re/g,
      new Date(NaN),
      { toJSON: () => ({ replaced: true }) },
      {
        toJSON() {
          throw new Error('no');
        },
      },
      new Uint8Array(3),
      new ArrayBuffer(8),
      -Infinity,
    ];
    const captured = values.map((v) => captureValue(v));
    expect(captured).toEqual([
      '[Unreadable]',
      {},
      '[WeakMap]',
      '[Promise]',
      '/re/g',
      'Invalid Date',
      { replaced: true },
      '[Unreadable]',
      '[Uint8Array: 3 bytes]',
      '[ArrayBuffer: 8 bytes]',
      '-Infinity',
    ]);
    expect(() => JSON.stringify(captured)).not.toThrow();
  });
});

describe('captureArguments', () => {
  it('keeps a single plain object as inputs, a list otherwise', () => {
    expect(captureArguments([{ q: 1 }])).toEqual({ q: 1 });
    expect(captureArguments([new Date(0)])).toEqual(['1970-01-01T00:00:00.000Z']);
    expect(captureArguments([{ q: 1 }, 2])).toEqual([{ q: 1 }, 2]);
  });
});

describe('safeJson', () => {
  it('returns text for anything', () => {
    const circular: Record<string, unknown> = {};
    circular.me = circular;
    expect(safeJson(circular)).toBe('"[Unserializable]"');
    expect(safeJson(undefined)).toBe('null');
  });
});

describe('the flat fast path', () => {
  it('gives what the general walk gives', () => {
    const samples: Record<string, unknown>[] = [
      { query: 'otel', limit: 10, exact: true, cursor: null, skip: undefined },
      { apiKey: 'k', Password: 'p', note: 'n'.repeat(1000) },
      { long: 'x'.repeat(1001) }, // needs truncation: walked
      { nested: { a: 1 } }, // not flat: walked
      { n: NaN }, // not finite: walked
      Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, i])), // too many keys: walked
    ];
    for (const sample of samples) {
      // Wrapping in an array forces the general walk for the object inside it.
      expect(captureValue(sample)).toEqual((captureValue([sample]) as unknown[])[0]);
    }
  });
});
