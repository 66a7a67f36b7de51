import { toStructuredError } from '../../src/events/errors';

describe('toStructuredError', () => {
  class RateLimitError extends Error {}
  it.each([
    ['TimeoutError by name', Object.assign(new Error('slow'), { name: 'TimeoutError' }), true],
    ['AbortError', new DOMException('aborted', 'AbortError'), true],
    ['a subclass named like the reference list', new RateLimitError('429'), true],
    ['"timeout" in the message', new Error('Read TIMEOUT after 5s'), true],
    ['ECONNRESET code', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), true],
    ['ETIMEDOUT code', Object.assign(new Error('x'), { code: 'ETIMEDOUT' }), true],
    ['HTTP 429 status', Object.assign(new Error('too many'), { status: 429 }), true],
    ['HTTP 503 response status', Object.assign(new Error('unavailable'), { response: { status: 503 } }), true],
    [
      'fetch failure with a refused connection',
      new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }),
      true,
    ],
    ['HTTP 400', Object.assign(new Error('bad request'), { statusCode: 400 }), false],
    ['a plain error', new Error('nope'), false],
  ])('%s → retryable %s', (_label, error, retryable) => {
    expect(toStructuredError(error, 'tool').retryable).toBe(retryable);
  });

  it('reports the class name, as the reference reports type(e).__name__', () => {
    expect(toStructuredError(new RateLimitError('x'), 'tool').type).toBe('RateLimitError');
    expect(toStructuredError(new TypeError('x'), 'tool').type).toBe('TypeError');
  });

  it('describes non-Error throws by their JavaScript type', () => {
    expect(toStructuredError('boom', 'agent')).toEqual({
      type: 'string',
      message: 'boom',
      source: 'agent',
      retryable: false,
    });
    expect(toStructuredError(null, 'tool')).toMatchObject({ type: 'null', message: 'null' });
    expect(toStructuredError(undefined, 'tool')).toMatchObject({ type: 'undefined', message: 'undefined' });
    expect(toStructuredError({ reason: 'x', password: 'p' }, 'tool')).toMatchObject({
      type: 'Object',
      message: '{"reason":"x","password":"***REDACTED***"}',
    });
  });

  it('keeps string and numeric codes and truncates long messages', () => {
    expect(toStructuredError(Object.assign(new Error('x'), { code: 42 }), 'tool').code).toBe('42');
    expect(toStructuredError(new Error('m'.repeat(5000)), 'tool').message).toHaveLength(
      1000 + '... (truncated)'.length,
    );
  });
});
