/**
 * A fast yes/no check of a parsed JSON value against a zod schema, compiled once from the schema's
 * own definition (`schema._zod.def`), for `validate` and `tree` on files of millions of lines.
 *
 * zod's parse builds a new output object for every object it checks and an issue list for every
 * field; for a line that is valid (nearly all of them) none of that is needed. The compiled check
 * walks the value once and allocates nothing: objects, records, arrays, unions, discriminated unions,
 * optional and nullable are walked by the rules zod's parse follows (each rule below names the zod
 * class it follows), and every refinement and format (uuid, datetime, regex, lengths, integer ranges,
 * `refine`) is zod's own check function, called on the value. Each object schema becomes a function
 * of its own (generated source, as zod's own JIT for z.object does), so that its property reads are
 * specialised to its keys. A construct it does not walk (a transform, a default, a pipe, a check that
 * rewrites its value, an intersection…), or a runtime that forbids generated code, makes
 * `compileCheck` return undefined: the caller then parses every value with zod.
 *
 * The contract, for values that JSON.parse made: `check(v)` is true exactly when the schema's
 * `safeParse(v)` succeeds, and zod's output would then be `v`'s content (nothing a compiled schema
 * does changes a value; zod's copy would only leave out a record's `__proto__` key). A caller that
 * needs the words of a failure parses with zod (test/cli/fast-check.test.ts holds the two to agreeing
 * on every event type, valid and hostile).
 */
import type { $ZodType } from 'zod/v4/core';

export type Check = (value: unknown) => boolean;

/** Not compiled: the schema uses something this module does not walk. */
class Unsupported extends Error {}

interface ZodCheck {
  _zod: {
    def: { check: string; when?: (payload: Payload) => boolean };
    check(payload: Payload): unknown;
  };
}
interface Payload {
  value: unknown;
  issues: unknown[];
}
interface Def {
  type: string;
  checks?: ZodCheck[];
  coerce?: boolean;
  [key: string]: unknown;
}
type Schema = $ZodType & {
  _zod: { def: Def; traits: Set<string>; optin?: string; optout?: string; values?: Set<unknown> };
};

/** Checks that only look at their value, never rewrite it. */
const PURE_CHECKS = new Set([
  'less_than',
  'greater_than',
  'multiple_of',
  'number_format',
  'max_length',
  'min_length',
  'length_equals',
  'string_format',
  'custom',
]);

/** A schema's checks (the schema itself first when it is one, as z.uuid() is), in the order zod runs them. */
function checksOf(schema: Schema): ZodCheck[] {
  const own = schema._zod.def.checks ?? [];
  const all = schema._zod.traits.has('$ZodCheck') ? [schema as unknown as ZodCheck, ...own] : [...own];
  for (const check of all) {
    if (!PURE_CHECKS.has(check._zod.def.check)) throw new Unsupported(`check ${check._zod.def.check}`);
  }
  return all;
}

function noChecks(schema: Schema): void {
  if (checksOf(schema).length > 0) throw new Unsupported(`checks on ${schema._zod.def.type}`);
}

/**
 * The source of one generated function, `(v) => boolean`. `use` names a value the code needs (a
 * check, a set, a nested function) and passes it in when the function is made.
 */
class Source {
  private readonly names: string[] = [];
  private readonly values: unknown[] = [];
  private variables = 0;
  readonly lines: string[] = [];

  /** A variable of the function's own, kept from call to call. */
  variable(): string {
    return `m${this.variables++}`;
  }

  use(value: unknown): string {
    const at = this.values.indexOf(value);
    if (at !== -1) return this.names[at]!;
    const name = `c${this.values.length}`;
    this.names.push(name);
    this.values.push(value);
    return name;
  }

  make(name: string): Check {
    // The payload zod's checks write their issues to: one per function, emptied after a failure.
    const kept = Array.from({ length: this.variables }, (_, i) => `let m${i};\n`).join('');
    const body = `const P = { value: undefined, issues: [] };\n${kept}return function ${name}(v) {\n${this.lines.join('\n')}\n};`;
    try {
      return new Function(...this.names, body)(...this.values) as Check;
    } catch (error) {
      // Code generation disallowed (--disallow-code-generation-from-strings, a CSP).
      if (error instanceof EvalError) throw new Unsupported(error.message);
      throw error;
    }
  }
}

/**
 * Statements that `return false` unless the value in variable `x` passes `schema`: the type test of
 * a leaf as zod's parse makes it, then the schema's checks; a nested object, record, array or union
 * is a call to its own function.
 */
function statements(schema: Schema, x: string, src: Source): string {
  const def = schema._zod.def;
  if (def.coerce) throw new Unsupported('coerce');
  switch (def.type) {
    case 'string': // $ZodString
      return `if (typeof ${x} !== 'string') return false;\n${checks(schema, x, src, true)}`;
    case 'number': // $ZodNumber: NaN and ±Infinity are not numbers
      return `if (typeof ${x} !== 'number' || !Number.isFinite(${x})) return false;\n${checks(schema, x, src)}`;
    case 'boolean': // $ZodBoolean
      return `if (typeof ${x} !== 'boolean') return false;\n${checks(schema, x, src)}`;
    case 'null': // $ZodNull
      return `if (${x} !== null) return false;\n${checks(schema, x, src)}`;
    case 'literal': // $ZodLiteral, $ZodEnum: membership of the set of values
    case 'enum':
      return `if (!${src.use(schema._zod.values)}.has(${x})) return false;\n${checks(schema, x, src)}`;
    case 'unknown':
    case 'any':
      return checks(schema, x, src);
    case 'optional': // $ZodOptional, $ZodNullable
    case 'nullable':
      noChecks(schema);
      return `if (${x} !== ${def.type === 'optional' ? 'undefined' : 'null'}) {\n${statements(def.innerType as Schema, x, src)}\n}`;
    default:
      return `if (!${src.use(compile(schema))}(${x})) return false;`;
  }
}

/**
 * zod's own checks of a schema, on the reusable payload P; a check that passes adds no issue. With
 * `remember` (strings), the last value that passed is kept, and the same string again passes without
 * running them: a string's formats and lengths depend on the string alone (a refine might not, so
 * a schema with one is always checked). Within a run, run_id, trace_id, agent_id… repeat on every line.
 */
function checks(schema: Schema, x: string, src: Source, remember = false): string {
  const all = checksOf(schema);
  if (all.length === 0) return '';
  if (remember && all.every((check) => check._zod.def.check !== 'custom')) {
    const last = src.variable();
    return `if (${x} !== ${last}) {\n${checks(schema, x, src)}\n${last} = ${x};\n}`;
  }
  const out = [`P.value = ${x};`];
  for (const check of all) {
    const run = src.use(check._zod.check.bind(check._zod));
    // A check that returns something is asynchronous: zod's synchronous parse refuses it too.
    const test = `if (${run}(P) !== undefined || P.issues.length !== 0) { P.issues = []; return false; }`;
    const when = check._zod.def.when;
    out.push(when === undefined ? test : `if (${src.use(when)}(P)) { ${test} }`);
  }
  return out.join('\n');
}

/** A function of its own for the schemas that have structure; a leaf is wrapped in one. */
function compile(schema: Schema): Check {
  const def = schema._zod.def;
  switch (def.type) {
    case 'object':
      return object(schema);
    case 'record':
      return record(schema);
    case 'array':
      return array(schema);
    case 'union':
      return union(schema);
    case 'string':
    case 'number':
    case 'boolean':
    case 'null':
    case 'literal':
    case 'enum':
    case 'unknown':
    case 'any':
    case 'optional':
    case 'nullable': {
      const src = new Source();
      src.lines.push(statements(schema, 'v', src), 'return true;');
      return src.make('leaf');
    }
    default:
      throw new Unsupported(def.type);
  }
}

const IS_OBJECT = `if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;`;

/**
 * $ZodObject: a key is present when reading it gives a value (JSON values are never undefined, and
 * no key of a compiled shape is inherited from Object.prototype); an absent key passes only when
 * optional; with a `never` catchall (strictObject) any other key fails, `__proto__` included (as
 * zod's for…in sees it); the object's own checks (refine) run once its fields passed.
 */
function object(schema: Schema): Check {
  const def = schema._zod.def;
  const shape = def.shape as Record<string, Schema>;
  if (Object.getOwnPropertySymbols(shape).length > 0) throw new Unsupported('symbol keys');
  const catchall = (def.catchall as Schema | undefined)?._zod.def.type;
  if (catchall !== undefined && catchall !== 'never' && catchall !== 'unknown') {
    throw new Unsupported(`catchall ${catchall}`);
  }
  const src = new Source();
  src.lines.push(IS_OBJECT, 'let x, present = 0;');
  for (const key of Object.keys(shape)) {
    if (key in Object.prototype) throw new Unsupported(`key ${key}`);
    const field = shape[key]!;
    const { optin, optout } = field._zod;
    if (optin !== undefined && (optin !== 'optional' || optout !== 'optional')) {
      throw new Unsupported(`key ${key}: ${optin}/${optout}`);
    }
    src.lines.push(
      `x = v[${JSON.stringify(key)}];`,
      optin === 'optional' ? 'if (x !== undefined) {' : 'if (x === undefined) return false; else {',
      'present++;',
      statements(field, 'x', src),
      '}',
    );
  }
  if (catchall === 'never')
    src.lines.push('let own = 0;', 'for (const k in v) own++;', 'if (own !== present) return false;');
  src.lines.push(checks(schema, 'v', src), 'return true;');
  return src.make('object');
}

/** $ZodRecord with string keys: every value checked, `__proto__` skipped as zod skips it. */
function record(schema: Schema): Check {
  const def = schema._zod.def;
  const keyType = def.keyType as Schema;
  if (keyType._zod.def.type !== 'string' || keyType._zod.def.coerce || def.mode !== undefined) {
    throw new Unsupported('record other than z.record(z.string(), …)');
  }
  noChecks(keyType);
  noChecks(schema);
  const src = new Source();
  // JSON.parse makes plain objects only: zod's isPlainObject is isObject for them, and their own
  // enumerable keys (zod's Reflect.ownKeys) are what for…in gives.
  src.lines.push(IS_OBJECT, 'for (const k in v) {', `if (k === '__proto__') continue;`, 'const x = v[k];');
  src.lines.push(statements(def.valueType as Schema, 'x', src), '}', 'return true;');
  return src.make('record');
}

/** $ZodArray without size checks: every element checked. */
function array(schema: Schema): Check {
  noChecks(schema);
  const src = new Source();
  src.lines.push('if (!Array.isArray(v)) return false;', 'for (let i = 0; i < v.length; i++) {', 'const x = v[i];');
  src.lines.push(statements(schema._zod.def.element as Schema, 'x', src), '}', 'return true;');
  return src.make('array');
}

/**
 * $ZodUnion: any option passes. $ZodDiscriminatedUnion: the one option the discriminator's value
 * names, and no other (without `unionFallback`, zod tries no other either).
 */
function union(schema: Schema): Check {
  const def = schema._zod.def;
  noChecks(schema);
  const options = (def.options as Schema[]).map((option) => ({ option, check: compile(option) }));
  if (def.discriminator === undefined) {
    if (def.inclusive === false) throw new Unsupported('exclusive union');
    const src = new Source();
    for (const { check } of options) src.lines.push(`if (${src.use(check)}(v)) return true;`);
    src.lines.push('return false;');
    return src.make('union');
  }
  if (def.unionFallback) throw new Unsupported('discriminated union with fallback');
  const discriminator = def.discriminator as string;
  const src = new Source();
  src.lines.push(IS_OBJECT, `switch (v[${JSON.stringify(discriminator)}]) {`);
  const seen = new Set<unknown>();
  for (const { option, check } of options) {
    const values = (option._zod as { propValues?: Record<string, Set<unknown>> }).propValues?.[discriminator];
    if (values === undefined || values.size === 0) throw new Unsupported('discriminator values');
    for (const value of values) {
      // A case of a switch is ===, as zod's Map lookup is for these (no NaN, no undefined).
      const literal =
        typeof value === 'string' ||
        typeof value === 'boolean' ||
        value === null ||
        (typeof value === 'number' && !Number.isNaN(value));
      if (!literal || seen.has(value)) throw new Unsupported('discriminator values');
      seen.add(value);
      src.lines.push(`case ${JSON.stringify(value)}:`);
    }
    src.lines.push(`return ${src.use(check)}(v);`);
  }
  src.lines.push('default:', 'return false;', '}');
  return src.make('discriminated');
}

/** The compiled check of a schema, or undefined when it uses what is not compiled (then use zod's parse). */
export function compileCheck(schema: $ZodType): Check | undefined {
  try {
    return compile(schema as Schema);
  } catch (error) {
    if (error instanceof Unsupported) return undefined;
    throw error;
  }
}
