/**
 * POSTs each batch to `{endpoint}/v1/events` as `{"events": [...]}` and tells delivery how a failure
 * should be handled: network errors, timeouts, 408, 429 and 5xx are retryable (with the receiver's
 * Retry-After), 413 means "split the batch", anything else is a rejection. Connections are kept alive
 * by Node's fetch. The API key is only ever in the request header: never in an error message.
 */
import { parseRetryAfter } from '../delivery/backoff';
import type { EventSink } from '../delivery/delivery';
import { ALMDeliveryError } from '../errors';
import type { ALMEvent } from '../events/schema';

export interface HttpSinkOptions {
  endpoint: string;
  apiKey?: string;
  timeoutMs: number;
}

const EXCERPT_LENGTH = 200;
/** Most bytes of an error answer's body read (and scrubbed); the rest is discarded unread. */
export const ERROR_BODY_LIMIT = 8192;

/** The first `limit` bytes of a body as text; the rest of the stream is cancelled, never buffered. */
async function bodyExcerpt(response: Response, limit: number): Promise<string> {
  const body = response.body;
  if (body === null) return '';
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  try {
    while (length < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      length += value.byteLength;
    }
  } finally {
    if (length >= limit) void reader.cancel().catch(() => {});
    else reader.releaseLock();
  }
  // A cut inside a multi-byte character decodes to U+FFFD; the excerpt is only for messages.
  return Buffer.concat(chunks, length).subarray(0, limit).toString('utf8');
}

function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** The ingest URL: `/v1/events` appended to the endpoint's path (a query string stays where it is). */
export function eventsUrl(endpoint: string): URL {
  const url = new URL(endpoint);
  url.pathname = url.pathname.replace(/\/+$/, '') + '/v1/events';
  return url;
}

// The escapes a receiver may echo the key in: JSON (`\u002d`, `\/`), percent-encoding (either case)
// and HTML character references. Decoding them, rather than listing the key's encoded forms, also
// catches forms nobody listed (a key encoded twice, escapes mixed within one key).
const JSON_ESCAPE = /\\u([0-9a-fA-F]{4})|\\([\\/"'bfnrt])/g;
const PERCENT_RUN = /(?:%[0-9a-fA-F]{2})+/g;
const HTML_REFERENCE = /&#(?:x([0-9a-fA-F]{1,6})|(\d{1,7}));?/g;
const SHORT_ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

function decodeOnce(text: string): string {
  return text
    .replace(JSON_ESCAPE, (_, hex: string | undefined, c: string) =>
      hex !== undefined ? String.fromCharCode(parseInt(hex, 16)) : (SHORT_ESCAPES[c] ?? c),
    )
    .replace(PERCENT_RUN, (run) => {
      try {
        return decodeURIComponent(run);
      } catch {
        return run;
      }
    })
    .replace(HTML_REFERENCE, (ref, hex: string | undefined, dec: string | undefined) => {
      const code = hex !== undefined ? parseInt(hex, 16) : Number(dec);
      return code <= 0x10ffff ? String.fromCodePoint(code) : ref;
    });
}

/**
 * Text the receiver sent back (or an error's message), made safe to show: decoded until nothing
 * changes (a few rounds at most), then every occurrence of the key, in any letter case, replaced.
 */
export function scrubSecret(text: string, secret: string | undefined): string {
  if (secret === undefined || secret.length === 0) return text;
  for (let round = 0; round < 4; round++) {
    const decoded = decodeOnce(text);
    if (decoded === text) break;
    text = decoded;
  }
  return text.replace(new RegExp(secret.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gi'), '***');
}

export class HttpSink implements EventSink {
  /** Takes events already serialised (one JSON text each), and several batches in flight at once. */
  readonly serialized = true;
  readonly concurrent = true;
  // Private fields: the key stays out of util.inspect(), JSON.stringify() and enumeration.
  readonly #url: string;
  /** The URL as it may appear in messages: without credentials, and with the key scrubbed. */
  readonly #shownUrl: string;
  readonly #headers: Record<string, string>;
  readonly #apiKey: string | undefined;
  readonly #timeoutMs: number;

  constructor(options: HttpSinkOptions) {
    const url = eventsUrl(options.endpoint);
    this.#url = url.href;
    url.username = '';
    url.password = '';
    this.#apiKey = options.apiKey;
    this.#timeoutMs = options.timeoutMs;
    this.#shownUrl = scrubSecret(url.href, options.apiKey);
    this.#headers = { 'content-type': 'application/json' };
    if (options.apiKey !== undefined) this.#headers.authorization = `Bearer ${options.apiKey}`;
  }

  async write(events: ALMEvent[], lines?: readonly string[]): Promise<void> {
    const count = events.length;
    let response: Response;
    try {
      response = await fetch(this.#url, {
        method: 'POST',
        headers: this.#headers,
        body: lines === undefined ? JSON.stringify({ events }) : `{"events":[${lines.join(',')}]}`,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      if (response.ok) {
        // Read (a bounded part of) the acknowledgement, so that the connection can be kept alive.
        await bodyExcerpt(response, ERROR_BODY_LIMIT);
        return;
      }
    } catch (error) {
      // No instanceof: fetch's errors may come from another realm (test runners, vm contexts).
      const timedOut = (error as { name?: unknown } | null)?.name === 'TimeoutError';
      const reason = timedOut ? `no answer within ${this.#timeoutMs} ms` : this.#scrub(describeFailure(error));
      throw new ALMDeliveryError(`POST ${this.#shownUrl} failed: ${reason}`, count, { retryable: true });
    }
    const status = response.status;
    let body = '';
    try {
      body = await bodyExcerpt(response, ERROR_BODY_LIMIT);
    } catch {
      // The body broke off: the status says enough.
    }
    // Scrubbed before it is cut, so that no part of the key survives at the cut.
    const excerpt = this.#scrub(body).slice(0, EXCERPT_LENGTH).replace(/\s+/g, ' ').trim();
    throw new ALMDeliveryError(
      `POST ${this.#shownUrl} answered ${status}${excerpt ? `: ${excerpt}` : ''} (${count} events)`,
      count,
      {
        status,
        retryable: isRetryableStatus(status),
        retryAfterMs: parseRetryAfter(response.headers.get('retry-after')),
        tooLarge: status === 413,
      },
    );
  }

  #scrub(text: string): string {
    return scrubSecret(text, this.#apiKey);
  }
}

function describeFailure(error: unknown): string {
  const e = error as { message?: unknown; cause?: { code?: unknown; message?: unknown } } | null;
  const message = typeof e?.message === 'string' ? e.message : String(error);
  const detail = e?.cause?.code ?? e?.cause?.message;
  return detail === undefined ? message : `${message} (${String(detail)})`;
}
