/**
 * Structured errors `{type, message, source, retryable, code?}` as the ALM schema defines them,
 * built from anything a tool or agent can throw. Never throws.
 */
import { errorTypeName, safeJson, captureValue, truncateString, type KeyFilter } from './capture';

export type ErrorSource = 'tool' | 'policy' | 'agent' | 'system';

export interface StructuredError {
  type: string;
  message: string;
  source: ErrorSource;
  retryable: boolean;
  code?: string;
}

// The reference's list, plus the names Node and fetch use for the same conditions.
const RETRYABLE_TYPES = new Set([
  'ConnectionError',
  'TimeoutError',
  'TemporaryFailure',
  'RateLimitError',
  'ServiceUnavailableError',
  'AbortError',
]);
const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ETIMEDOUT',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);
const RETRYABLE_STATUSES = new Set([408, 429, 502, 503, 504]);

function read(o: object, key: string): unknown {
  try {
    return (o as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

function httpStatus(o: object): number | undefined {
  const response = read(o, 'response');
  const status =
    read(o, 'status') ??
    read(o, 'statusCode') ??
    (response !== null && typeof response === 'object' ? read(response, 'status') : undefined);
  // Only plain numbers and numeric strings: converting anything else may throw (symbols, odd objects).
  if (typeof status === 'number') return status;
  return typeof status === 'string' && /^\d{3}$/.test(status) ? Number(status) : undefined;
}

function codeOf(o: object): string | undefined {
  const code = read(o, 'code');
  return typeof code === 'string' || typeof code === 'number' ? String(code) : undefined;
}

function isRetryable(type: string, message: string, o: object | undefined): boolean {
  if (RETRYABLE_TYPES.has(type) || /timeout/i.test(message)) return true;
  if (o === undefined) return false;
  const code = codeOf(o);
  if (code !== undefined && RETRYABLE_CODES.has(code)) return true;
  const status = httpStatus(o);
  if (status !== undefined && RETRYABLE_STATUSES.has(status)) return true;
  // fetch() wraps the socket error: TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }).
  const cause = read(o, 'cause');
  if (cause !== null && typeof cause === 'object') {
    const causeCode = codeOf(cause);
    return causeCode !== undefined && RETRYABLE_CODES.has(causeCode);
  }
  return false;
}

function messageOf(thrown: unknown, sensitive: KeyFilter | undefined): string {
  if (thrown !== null && typeof thrown === 'object') {
    const message = read(thrown, 'message');
    if (typeof message === 'string') return message;
    return safeJson(captureValue(thrown, sensitive));
  }
  try {
    return String(thrown);
  } catch {
    return '[Unprintable]';
  }
}

/** A structured error from a type name and message alone (what a span's status and attributes keep). */
export function describeError(type: string, message: string, source: ErrorSource): StructuredError {
  return { type, message, source, retryable: isRetryable(type, message, undefined) };
}

/**
 * Describe a thrown value. Non-Error values keep their JS type as `type` (`string`, `null`, `Object`, ...).
 * Total: whatever was thrown, this returns.
 */
export function toStructuredError(thrown: unknown, source: ErrorSource, sensitive?: KeyFilter): StructuredError {
  try {
    return describeThrown(thrown, source, sensitive);
  } catch {
    return { type: 'Object', message: '[Unprintable]', source, retryable: false };
  }
}

function describeThrown(thrown: unknown, source: ErrorSource, sensitive: KeyFilter | undefined): StructuredError {
  const isObject = thrown !== null && typeof thrown === 'object';
  const type = thrown === null ? 'null' : isObject ? errorTypeName(thrown) : typeof thrown;
  const message = truncateString(messageOf(thrown, sensitive));
  const error: StructuredError = {
    type,
    message,
    source,
    retryable: isRetryable(type, message, isObject ? thrown : undefined),
  };
  const code = isObject ? codeOf(thrown) : undefined;
  if (code !== undefined) error.code = code;
  return error;
}
