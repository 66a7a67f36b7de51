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

describe('hostile input', () => {
  it('keeps a __proto__ key as plain data and never lets input choose a prototype', () => {
    const hostile = JSON.parse('{"q": 1, "__proto__": {"isAdmin": true}}') as Record<string, unknown>;
    for (const captured of [captureValue(hostile), captureArguments([hostile]), captureValue({ deep: [hostile] })]) {
      const json = JSON.stringify(captured);
      expect(json).toContain('"__proto__":{"isAdmin":true}');
    }
    const captured = captureArguments([hostile]) as Record<string, unknown>;
    expect(Object.getPrototypeOf(captured)).toBe(Object.prototype);
    expect(captured.isAdmin).toBeUndefined();
    expect(Object.keys(captured)).toEqual(['q', '__proto__']);
    expect(Object.getOwnPropertyDescriptor(captured, '__proto__')?.value).toEqual({ isAdmin: true });
    // A Map key named __proto__ is data too.
    const fromMap = captureValue(new Map([['__proto__', { isAdmin: true }]])) as Record<string, unknown>;
    expect(Object.getPrototypeOf(fromMap)).toBe(Object.prototype);
    expect(JSON.stringify(fromMap)).toBe('{"__proto__":{"isAdmin":true}}');
  });

  it('counts the 1000-character limit in code points and never splits a surrogate pair', () => {
    const emoji = '\u{1F600}';
    expect(captureValue('a'.repeat(999) + emoji)).toBe('a'.repeat(999) + emoji);
    expect(captureValue('a'.repeat(999) + emoji + emoji)).toBe('a'.repeat(999) + emoji + '... (truncated)');
    // 600 emoji are 1200 UTF-16 units but 600 characters: kept whole, as the reference keeps them.
    expect(captureValue(emoji.repeat(600))).toBe(emoji.repeat(600));
    expect(captureValue(emoji.repeat(1001))).toBe(emoji.repeat(1000) + '... (truncated)');
  });

  it('emits only well-formed strings: lone surrogates become U+FFFD, in values and keys', () => {
    const lone = 'x\ud83d';
    const captured = captureValue({ [lone]: ['\udc00y', 'ok'], n: lone.repeat(600) });
    const json = JSON.stringify(captured);
    expect(json).not.toMatch(/\\ud[89a-f][0-9a-f]{2}/i);
    expect(captured).toEqual({ 'x\ufffd': ['\ufffdy', 'ok'], n: 'x\ufffd'.repeat(500) + '... (truncated)' });
    // What survives a UTF-8 round trip (the wire) is exactly what was captured.
    expect(Buffer.from(json, 'utf8').toString('utf8')).toBe(json);
  });

  it('never throws on a Proxy whose traps throw, as the only argument or anywhere inside', () => {
    const trap = () => {
      throw new Error('trap');
    };
    const hostile = new Proxy(
      {},
      { getPrototypeOf: trap, ownKeys: trap, get: trap, has: trap, getOwnPropertyDescriptor: trap },
    );
    expect(() => captureArguments([hostile])).not.toThrow();
    expect(captureArguments([hostile])).toEqual(['[Unreadable]']);
    expect(captureValue({ a: hostile })).toEqual({ a: '[Unreadable]' });
  });

  it('lists a huge object keys once and reads no more than MAX_ITEMS of its values', () => {
    const keys = Array.from({ length: 100_000 }, (_, i) => `k${i}`);
    let listed = 0;
    let read = 0;
    const huge = new Proxy({} as Record<string, number>, {
      ownKeys: () => {
        listed++;
        return keys;
      },
      getOwnPropertyDescriptor: () => ({ value: 1, enumerable: true, configurable: true, writable: true }),
      get: (_, key) => {
        if (typeof key === 'string' && key.startsWith('k')) read++;
        return 1;
      },
    });
    const captured = captureValue(huge) as Record<string, unknown>;
    expect(Object.keys(captured)).toHaveLength(MAX_ITEMS + 1);
    expect(captured['...']).toBe(`(${keys.length - MAX_ITEMS} more keys)`);
    expect(listed).toBe(1);
    expect(read).toBeLessThanOrEqual(MAX_ITEMS);
  });

  it('redacts HTTP credential keys too, and not ordinary words that share a stem', () => {
    for (const key of ['authorization', 'Proxy-Authorization', 'cookie', 'Set-Cookie', 'x-api-key', 'X-API-Key']) {
      expect(isSensitiveKey(key)).toBe(true);
    }
    for (const key of ['author', 'authored_by', 'cook', 'query', 'headers']) expect(isSensitiveKey(key)).toBe(false);
    expect(
      captureValue({ headers: { Authorization: 'Bearer abc', cookie: 'sid=1', 'x-api-key': 'k' }, author: 'Ada' }),
    ).toEqual({
      headers: { Authorization: REDACTED, cookie: REDACTED, 'x-api-key': REDACTED },
      author: 'Ada',
    });
  });
});
