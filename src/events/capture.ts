/**
 * Turns arbitrary tool arguments, results and handoff context into plain, JSON-safe data:
 * redacted as the reference SDK does, truncated, and bounded in size. Never throws.
 *
 * Reference behaviour kept exactly: any object key whose lower-cased name contains `password`,
 * `token`, `api_key`, `apikey`, `secret` or `key` has its value replaced by `***REDACTED***` at any
 * depth; strings over 1000 characters are cut to 1000 and suffixed `... (truncated)`.
 * Beyond the reference: cycles, BigInt, functions, symbols, binary data, Maps, Sets, Dates, Errors,
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

// `key` already covers `api_key` and `apikey`; they stay listed to mirror the reference's list.
const SENSITIVE_KEY = /password|token|api_key|apikey|secret|key/i;

export function isSensitiveKey(key: string): boolean {
  return SENSITIVE_KEY.test(key);
}

export function truncateString(s: string): string {
  return s.length > MAX_STRING_LENGTH ? s.slice(0, MAX_STRING_LENGTH) + TRUNCATED_SUFFIX : s;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

class Walker {
  private budget = MAX_CAPTURE_CHARS;
  private readonly ancestors: object[] = [];

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

  private object(o: object, depth: number): unknown {
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
        return this.properties(o as Record<string, unknown>, depth);
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
      if (isSensitiveKey(key)) {
        out[key] = REDACTED;
        continue;
      }
      const captured = this.value(item, depth + 1);
      if (captured !== undefined) out[key] = captured;
    }
    return out;
  }

  /** Own enumerable string keys of an object; a getter that throws yields `[Unreadable]`. */
  private properties(o: Record<string, unknown>, depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const keys = Object.keys(o);
    this.budget -= 2;
    for (let i = 0; i < keys.length; i++) {
      if (i === MAX_ITEMS || this.budget <= 0) {
        out['...'] = `(${keys.length - i} more keys)`;
        break;
      }
      const key = truncateString(keys[i]!);
      this.budget -= key.length + 4;
      if (isSensitiveKey(key)) {
        out[key] = REDACTED;
        continue;
      }
      let item: unknown;
      try {
        item = o[keys[i]!];
      } catch {
        item = '[Unreadable]';
      }
      const captured = this.value(item, depth + 1);
      if (captured !== undefined) out[key] = captured;
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
    if (typeof name === 'string' && name.length > 0 && name !== 'Error') return name;
    const ctor = (e as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof ctor === 'string' && ctor.length > 0 ? ctor : 'Object';
  } catch {
    return 'Object';
  }
}

/**
 * The common case on the hot path, a small flat object of short primitives, copied without the
 * general walk; undefined when the object needs the walk (same result either way).
 */
function captureFlat(o: Record<string, unknown>): Record<string, unknown> | undefined {
  const keys = Object.keys(o);
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
    size += key.length;
    if (isSensitiveKey(key)) out[key] = REDACTED;
    else if (typeof v === 'string' && v.length <= MAX_STRING_LENGTH) {
      size += v.length;
      out[key] = v;
    } else if ((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean' || v === null) out[key] = v;
    else if (v !== undefined) return undefined;
  }
  return size < MAX_CAPTURE_CHARS / 2 ? out : undefined;
}

/** A redacted, truncated, JSON-safe copy of any value. */
export function captureValue(value: unknown): unknown {
  try {
    if (isPlainObject(value)) {
      const flat = captureFlat(value);
      if (flat !== undefined) return flat;
    }
    return new Walker().value(value, 0);
  } catch {
    return '[Unreadable]';
  }
}

/**
 * Tool arguments as recorded: a call with one plain object keeps that object (the event schema's
 * `{inputs: {...}}`; the reference binds arguments to parameter names, and in JS a single options
 * object is that binding); any other call keeps the list of arguments (`{args: [...]}`).
 */
export function captureArguments(args: readonly unknown[]): unknown {
  return args.length === 1 && isPlainObject(args[0]) ? captureValue(args[0]) : captureValue(args);
}

/** JSON text that never throws: for span attributes, whose values must be primitives in SDK 2.x. */
export function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch {
    return '"[Unserializable]"';
  }
}
