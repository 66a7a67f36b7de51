/**
 * `@alm.toolMethod('name')`: TypeScript 5 standard decorators (TC39 stage 3) for class-based agents.
 * The decorated method becomes a tool exactly as `alm.tool(name, method)` makes one: policy first,
 * a span and events per call, `this` passed through, a sync method stays sync.
 */
import type { AnyFunction } from './tool';

/** What `alm.toolMethod(...)` returns: a standard method decorator. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ToolMethodDecorator = <This, F extends (this: This, ...args: any[]) => any>(
  method: F,
  context: ClassMethodDecoratorContext<This, F>,
) => F;

/** What `alm.toolMethod(name, { retry | timeoutMs })` returns: for methods that return a promise. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AsyncToolMethodDecorator = <This, F extends (this: This, ...args: any[]) => Promise<any>>(
  method: F,
  context: ClassMethodDecoratorContext<This, F>,
) => F;

export function toolMethodDecorator(
  wrap: (name: string, fn: AnyFunction) => AnyFunction,
  name: string | undefined,
): ToolMethodDecorator {
  if (name !== undefined && (typeof name !== 'string' || name.length === 0)) {
    throw new TypeError('alm.toolMethod: name must be a non-empty string, or left out to use the method name');
  }
  return (method, context) => {
    if (typeof context !== 'object' || context === null || (context as { kind?: unknown }).kind !== 'method') {
      const kind = typeof context === 'object' && context !== null ? (context as { kind?: unknown }).kind : undefined;
      throw new TypeError(
        kind === undefined
          ? 'alm.toolMethod: needs TypeScript 5 standard decorators (experimentalDecorators must be off)'
          : `alm.toolMethod: decorates methods only, not a ${String(kind)}`,
      );
    }
    const toolName = name ?? (typeof context.name === 'symbol' ? context.name.description : context.name);
    if (!toolName) throw new TypeError('alm.toolMethod: the method has no name to use; pass one');
    return wrap(toolName, method as AnyFunction) as typeof method;
  };
}
