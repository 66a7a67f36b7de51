/**
 * Turns arbitrary tool arguments, results and handoff context into plain, JSON-safe data:
 * redacted as the reference SDK does, truncated, and bounded in size. Never throws.
 *
 * Reference behaviour kept: any object key whose lower-cased name contains `password`, `token`,
 * `api_key`, `apikey`, `secret` or `key` has its value replaced by `***REDACTED***` at any depth;
 * strings over 1000 characters (code points, as Python counts) are cut to 1000 and suffixed
 * `... (truncated)`.
 * Beyond the reference: keys naming HTTP credentials (`authorization`, `cookie`) are redacted too;
 * every string is well-formed UTF-16 (a cut never splits a surrogate pair, a lone surrogate becomes
 * U+FFFD), so strict JSON parsers accept it; a `__proto__` key stays plain data and never sets a
 * prototype; cycles, BigInt, functions, symbols, binary data, Maps, Sets, Dates, Errors, Proxies and
 * getters that throw, deep nesting and huge collections all yield a bounded, printable value.
 */

export const REDACTED = '***REDACTED***';
export const MAX_STRING_LENGTH = 1000;
export const TRUNCATED_SUFFIX = '... (truncated)';
/** Deepest nesting kept; deeper containers become `[Object]` / `[Array]`. */
export const MAX_DEPTH = 8;
/** Most items kept from one array, Set or Map, and most keys kept from one object. */
export const MAX_ITEMS = 100;
/** Rough cap on the JSON size of one captured value; past it, values become `[Truncated]`. */
export const MAX_CAPTURE_CHARS = 64 * 1024;

// The reference's list (`key` already covers `api_key`, `apikey` and `x-api-key`), plus the HTTP
// credential headers: `authorization` (and `proxy-authorization`), `cookie` (and `set-cookie`).
// Whole words only where a shorter stem would catch ordinary ones (`auth` would redact `author`).
const SENSITIVE_KEY = /password|token|api_key|apikey|secret|key|authorization|cookie/i;

export function isSensitiveKey(key: string): boolean {
  return SENSITIVE_KEY.test(key);
}

/** Decides which object keys have their values redacted. */
export type KeyFilter = (key: string) => boolean;

/**
 * The reference list plus `redactKeys`: a string is matched as the reference's names are (the
 * lower-cased key contains it), a RegExp is tested against the key as it is. No extra keys: the
 * reference list alone.
 */
export function keyFilter(extra: readonly (string | RegExp)[] = []): KeyFilter {
  if (extra.length === 0) return isSensitiveKey;
  const names = extra
    .filter((k): k is string => typeof k === 'string')
    .map((k) => k.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const words = new RegExp([SENSITIVE_KEY.source, ...names].join('|'), 'i');
  // Without g / y, test() keeps no state between keys.
  const patterns = extra
    .filter((k): k is RegExp => k instanceof RegExp)
    .map((r) => new RegExp(r.source, r.flags.replace(/[gy]/g, '')));
  if (patterns.length === 0) return (key) => words.test(key);
  return (key) => words.test(key) || patterns.some((r) => r.test(key));
}

/** What replaces tool arguments or results whose capture is off (`capture: { inputs / outputs: false }`). */
export const WITHHELD_INPUTS = '[withheld: capture.inputs is off]';
export const WITHHELD_OUTPUTS = '[withheld: capture.outputs is off]';

// ES2024's String#isWellFormed / #toWellFormed (Node 20+), with a fallback for older engines.
interface WellFormedMethods {
  isWellFormed?(this: string): boolean;
  toWellFormed?(this: string): string;
}
const { isWellFormed: nativeIsWellFormed, toWellFormed: nativeToWellFormed } = String.prototype as WellFormedMethods;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Whether a string has no lone surrogate (so every JSON parser accepts it). */
const isWellFormed: (s: string) => boolean =
  nativeIsWellFormed !== undefined ? (s) => nativeIsWellFormed.call(s) : (s) => s.search(LONE_SURROGATE) === -1;

/** The string with every lone surrogate replaced by U+FFFD. */
function wellFormed(s: string): string {
  if (isWellFormed(s)) return s;
  return nativeToWellFormed !== undefined ? nativeToWellFormed.call(s) : s.replace(LONE_SURROGATE, '\ufffd');
}

/**
 * A string as events and spans may carry it: at most MAX_STRING_LENGTH code points (then
 * `... (truncated)`), never cut inside a surrogate pair, and well-formed.
 */
export function truncateString(s: string): string {
  if (s.length <= MAX_STRING_LENGTH) return wellFormed(s);
  // Over 1000 UTF-16 units may still be at most 1000 code points: count them up to the limit.
  let end = 0;
  for (let points = 0; points < MAX_STRING_LENGTH && end < s.length; points++) {
    const unit = s.charCodeAt(end);
    const pair = unit >= 0xd800 && unit <= 0xdbff && end + 1 < s.length && (s.charCodeAt(end + 1) & 0xfc00) === 0xdc00;
    end += pair ? 2 : 1;
  }
  return end >= s.length ? wellFormed(s) : wellFormed(s.slice(0, end)) + TRUNCATED_SUFFIX;
}

/** A plain object (Object.prototype or null prototype). Never throws: a Proxy whose traps throw is not one. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  try {
    const proto = Object.getPrototypeOf(value);
    return proto === Object.prototype || proto === null;
  } catch {
    return false;
  }
}

/**
 * Whether a value counts as given in the reference's `if value:` sense (Python truthiness): not
 * null or undefined, not an empty string, array or object, not 0 or false.
 */
export function isGiven(value: unknown): boolean {
  if (value === null || value === undefined || value === '' || value === 0 || value === false) return false;
  if (Array.isArray(value)) return value.length > 0;
  if (isPlainObject(value)) {
    for (const key in value) if (Object.prototype.hasOwnProperty.call(value, key)) return true;
    return false;
  }
  return true;
}

/** `out[key] = value`, except that a `__proto__` key becomes an own data property instead of setting the prototype. */
function setOwn(out: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    out[key] = value;
  }
}

class Walker {
  private budget = MAX_CAPTURE_CHARS;
  private readonly ancestors: object[] = [];

  constructor(private readonly sensitive: KeyFilter) {}

  value(v: unknown, depth: number): unknown {
    if (this.budget <= 0) return '[Truncated]';
    switch (typeof v) {
      case 'string': {
        const s = truncateString(v);
        this.budget -= s.length + 2;
        return s;
      }
      case 'number':
        this.budget -= 8;
        return Number.isFinite(v) ? v : String(v);
      case 'boolean':
        this.budget -= 5;
        return v;
      case 'undefined':
        return undefined;
      case 'bigint':
        return this.text(`${v}n`);
      case 'symbol':
        return this.text(v.toString());
      case 'function':
        return this.text(`[Function: ${safeName(v)}]`);
      default:
        return v === null ? null : this.object(v as object, depth);
    }
  }

  private text(s: string): string {
    return this.value(s, 0) as string;
  }

  /** `keys`: the object's own keys when the caller has listed them already. */
  object(o: object, depth: number, keys?: readonly string[]): unknown {
    if (this.ancestors.includes(o)) return '[Circular]';
    try {
      if (o instanceof Date) return this.text(Number.isNaN(o.getTime()) ? 'Invalid Date' : o.toISOString());
      if (o instanceof Error) return this.error(o, depth);
      if (ArrayBuffer.isView(o)) return this.text(`[${o.constructor?.name ?? 'Binary'}: ${o.byteLength} bytes]`);
      if (o instanceof ArrayBuffer) return this.text(`[ArrayBuffer: ${o.byteLength} bytes]`);
      if (o instanceof RegExp || o instanceof WeakMap || o instanceof WeakSet || o instanceof Promise) {
        return this.text(
          Object.prototype.toString.call(o) === '[object RegExp]' ? String(o) : `[${o.constructor.name}]`,
        );
      }
      if (depth >= MAX_DEPTH) return Array.isArray(o) ? '[Array]' : '[Object]';
      this.ancestors.push(o);
      try {
        if (Array.isArray(o)) return this.list(o, o.length, depth);
        if (o instanceof Set) return this.list(o, o.size, depth);
        if (o instanceof Map) return this.entries(o.entries(), o.size, depth);
        const toJSON = (o as { toJSON?: unknown }).toJSON;
        if (typeof toJSON === 'function') return this.value(toJSON.call(o), depth + 1);
        return this.properties(o as Record<string, unknown>, depth, keys);
      } finally {
        this.ancestors.pop();
      }
    } catch {
      return '[Unreadable]';
    }
  }

  private list(items: Iterable<unknown>, size: number, depth: number): unknown[] {
    const out: unknown[] = [];
    this.budget -= 2;
    for (const item of items) {
      if (out.length === MAX_ITEMS || this.budget <= 0) {
        out.push(`... (${size - out.length} more items)`);
        break;
      }
      const captured = this.value(item, depth + 1);
      out.push(captured === undefined ? null : captured);
    }
    return out;
  }

  private entries(entries: Iterable<[unknown, unknown]>, size: number, depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    let kept = 0;
    this.budget -= 2;
    for (const [rawKey, item] of entries) {
      const key = truncateString(typeof rawKey === 'string' ? rawKey : String(this.value(rawKey, MAX_DEPTH)));
      if (kept === MAX_ITEMS || this.budget <= 0) {
        out['...'] = `(${size - kept} more keys)`;
        break;
      }
      this.budget -= key.length + 4;
      kept++;
      if (this.sensitive(key)) {
        setOwn(out, key, REDACTED);
        continue;
      }
      const captured = this.value(item, depth + 1);
      if (captured !== undefined) setOwn(out, key, captured);
    }
    return out;
  }

  /**
   * Own enumerable string keys of an object; a getter that throws yields `[Unreadable]`. The keys are
   * listed once (JavaScript has no lazy way to list them); at most MAX_ITEMS values are read.
   */
  private properties(
    o: Record<string, unknown>,
    depth: number,
    keys: readonly string[] = Object.keys(o),
  ): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.budget -= 2;
    for (let i = 0; i < keys.length; i++) {
      if (i === MAX_ITEMS || this.budget <= 0) {
        out['...'] = `(${keys.length - i} more keys)`;
        break;
      }
      const key = truncateString(keys[i]!);
      this.budget -= key.length + 4;
      if (this.sensitive(key)) {
        setOwn(out, key, REDACTED);
        continue;
      }
      let item: unknown;
      try {
        item = o[keys[i]!];
      } catch {
        item = '[Unreadable]';
      }
      const captured = this.value(item, depth + 1);
      if (captured !== undefined) setOwn(out, key, captured);
    }
    return out;
  }

  private error(e: Error, depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {
      type: this.value(errorTypeName(e), depth),
      message: this.value(String(e.message), depth),
    };
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' || typeof code === 'number') out.code = String(code);
    return out;
  }
}

function safeName(fn: unknown): string {
  try {
    const name = (fn as { name?: unknown }).name;
    return typeof name === 'string' && name.length > 0 ? name : 'anonymous';
  } catch {
    return 'anonymous';
  }
}

/** The class name of an error, as the reference reports `type(e).__name__`. */
export function errorTypeName(e: object): string {
  try {
    const name = (e as { name?: unknown }).name;
    // Subclasses that do not set `name` still report their class, as Python's type(e).__name__ would.
    if (typeof name === 'string' && name.length > 0 && name !== 'Error') return truncateString(name);
    const ctor = (e as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof ctor === 'string' && ctor.length > 0 ? truncateString(ctor) : 'Object';
  } catch {
    return 'Object';
  }
}

/**
 * The common case on the hot path, a small flat object of short, well-formed primitives, copied
 * without the general walk; undefined when the object needs the walk (same result either way).
 */
function captureFlat(
  o: Record<string, unknown>,
  keys: readonly string[],
  sensitive: KeyFilter,
): Record<string, unknown> | undefined {
  if (keys.length > MAX_ITEMS) return undefined;
  const out: Record<string, unknown> = {};
  let size = 0;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    let v: unknown;
    try {
      v = o[key];
    } catch {
      v = '[Unreadable]';
    }
    if (key === '__proto__' || key.length > MAX_STRING_LENGTH) return undefined;
    size += key.length;
    if (sensitive(key)) out[key] = REDACTED;
    else if (typeof v === 'string' && v.length <= MAX_STRING_LENGTH && isWellFormed(v)) {
      size += v.length;
      out[key] = v;
    } else if ((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean' || v === null) out[key] = v;
    else if (v !== undefined) return undefined;
  }
  return size < MAX_CAPTURE_CHARS / 2 ? out : undefined;
}

/** A redacted, truncated, JSON-safe copy of any value. `sensitive`: which keys to redact (default: the reference list). */
export function captureValue(value: unknown, sensitive: KeyFilter = isSensitiveKey): unknown {
  // The common results first, without a walker: a short string, a finite number, a boolean.
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') return truncateString(value);
  try {
    if (isPlainObject(value)) {
      // Listed once for both paths: listing is the one cost that grows with a huge object.
      const keys = Object.keys(value);
      return captureFlat(value, keys, sensitive) ?? new Walker(sensitive).object(value, 0, keys);
    }
    return new Walker(sensitive).value(value, 0);
  } catch {
    return '[Unreadable]';
  }
}

/**
 * Tool arguments as recorded: a call with one plain object keeps that object (the event schema's
 * `{inputs: {...}}`; the reference binds arguments to parameter names, and in JS a single options
 * object is that binding), and so does a call with none (`{inputs: {}}`, as the reference binds a
 * function without parameters); any other call keeps the list of arguments (`{args: [...]}`).
 */
export function captureArguments(args: readonly unknown[], sensitive: KeyFilter = isSensitiveKey): unknown {
  if (args.length === 0) return {};
  return args.length === 1 && isPlainObject(args[0]) ? captureValue(args[0], sensitive) : captureValue(args, sensitive);
}

/** JSON text that never throws: for span attributes, whose values must be primitives in SDK 2.x. */
export function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch {
    return '"[Unserializable]"';
  }
}
