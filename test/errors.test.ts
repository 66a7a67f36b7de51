/**
 * alm-otel's errors stay recognisable with `instanceof` when a process loads two copies of alm-otel
 * (its ESM build through `import`, its CJS build through a dependency's `require`). The second copy
 * here is a real, separate instance of the module (jest.isolateModules).
 */
import * as errors from '../src/errors';

function otherCopy(): typeof errors {
  let copy: typeof errors | undefined;
  jest.isolateModules(() => {
    copy = require('../src/errors') as typeof errors;
  });
  expect(copy!.ToolDeniedError).not.toBe(errors.ToolDeniedError);
  return copy!;
}

describe('errors across copies of alm-otel', () => {
  it('instanceof holds for errors made by the other copy, both ways', () => {
    const other = otherCopy();
    expect(new other.ToolDeniedError('t', 'id', 'denied') instanceof errors.ToolDeniedError).toBe(true);
    expect(new errors.ToolDeniedError('t', 'id', 'denied') instanceof other.ToolDeniedError).toBe(true);
    expect(new other.ALMConfigError(['x']) instanceof errors.ALMConfigError).toBe(true);
    expect(new other.ALMDeliveryError('x', 1) instanceof errors.ALMDeliveryError).toBe(true);
  });

  it('does not confuse the error classes, nor take other errors for them', () => {
    const other = otherCopy();
    expect(new other.ToolDeniedError('t', 'id', 'denied') instanceof errors.ALMDeliveryError).toBe(false);
    expect(new Error('x') instanceof errors.ToolDeniedError).toBe(false);
    expect({ name: 'ToolDeniedError' } instanceof errors.ToolDeniedError).toBe(false);
    expect((null as unknown as object) instanceof errors.ToolDeniedError).toBe(false);
    expect(new errors.ToolDeniedError('t', 'id', 'denied') instanceof Error).toBe(true);
  });

  it('keeps ordinary instanceof for subclasses', () => {
    class Sub extends errors.ToolDeniedError {}
    expect(new Sub('t', 'id', 'r') instanceof errors.ToolDeniedError).toBe(true);
    expect(new Sub('t', 'id', 'r') instanceof Sub).toBe(true);
    expect(new errors.ToolDeniedError('t', 'id', 'r') instanceof Sub).toBe(false);
  });
});
