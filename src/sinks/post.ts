/**
 * One POST of a batch, as the http and otlp sinks send it, and what its answer means for delivery:
 * network errors, timeouts, 408, 429 and 5xx are retryable (with the receiver's Retry-After), 413 means
 * "split the batch", anything else is a rejection. Only a bounded excerpt of an answer is read (an
 * error page of 50 MB costs no more than one of 50 bytes), and secrets (the API key, header values)
 * are scrubbed from everything a message shows.
 */
import { parseRetryAfter } from '../delivery/backoff';
import { ALMDeliveryError } from '../errors';

/** Most bytes of a successful answer read: enough for an OTLP partial-success response. */
const ANSWER_LIMIT = 64 * 1024;
/** Most bytes of an error answer read (and scrubbed): enough for its message. */
const ERROR_LIMIT = 8 * 1024;
/** Characters of an error answer shown in a message. */
const EXCERPT_LENGTH = 200;

function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
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
 * Text a receiver sent back (or an error's message), made safe to show: decoded until nothing changes
 * (a few rounds at most), then every occurrence of each secret, in any letter case, replaced.
 */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  const shown = secrets.filter((secret) => secret.length > 0);
  if (shown.length === 0) return text;
  for (let round = 0; round < 4; round++) {
    const decoded = decodeOnce(text);
    if (decoded === text) break;
    text = decoded;
  }
  for (const secret of shown) {
    text = text.replace(new RegExp(secret.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gi'), '***');
  }
  return text;
}

/** The first `limit` bytes of a body; the rest is never read (the stream is cancelled). */
async function readBounded(response: Response, limit: number): Promise<Uint8Array> {
  if (response.body === null) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    if (size >= limit) await reader.cancel().catch(() => undefined);
  }
  const out = new Uint8Array(Math.min(size, limit));
  let at = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, out.byteLength - at);
    out.set(part, at);
    at += part.byteLength;
    if (at === out.byteLength) break;
  }
  return out;
}

export interface PostOptions {
  url: string;
  headers: Record<string, string>;
  body: string | Uint8Array;
  timeoutMs: number;
  /** Events in the batch, for messages and the error's count. */
  count: number;
  /** Scrubbed from every message. */
  secrets: readonly string[];
}

/**
 * The request. A byte body goes as a one-chunk stream with its length: fetch copies a Uint8Array body
 * twice (its own copy, then the byte stream's), and the copies' external memory drives collections,
 * about 1.3 ms of CPU for a 500 kB batch against 0.8 ms. Redirects are not followed: a 301/302/303
 * would turn the POST into a GET without its events (and count them delivered), and a stream body
 * cannot be sent again.
 */
function requestOf(options: PostOptions): RequestInit & { duplex?: 'half' } {
  const { body, headers } = options;
  const request = { method: 'POST', redirect: 'manual', signal: AbortSignal.timeout(options.timeoutMs) } as const;
  if (typeof body === 'string') return { ...request, headers, body };
  return {
    ...request,
    headers: { ...headers, 'content-length': String(body.byteLength) },
    body: new ReadableStream({
      start(controller) {
        controller.enqueue(body);
        controller.close();
      },
    }),
    duplex: 'half',
  };
}

/** The URL as a message may show it: without credentials, secrets scrubbed. */
export function shownUrl(url: string, secrets: readonly string[]): string {
  const shown = new URL(url);
  shown.username = '';
  shown.password = '';
  return scrubSecrets(shown.href, secrets);
}

/**
 * POSTs `body`; resolves with the first bytes of a 2xx answer, or throws an ALMDeliveryError that
 * says whether to retry, split or set the batch aside.
 */
export async function post(options: PostOptions): Promise<Uint8Array> {
  const { count, secrets } = options;
  let response: Response;
  let answer: Uint8Array;
  try {
    response = await fetch(options.url, requestOf(options));
    answer = await readBounded(response, response.ok ? ANSWER_LIMIT : ERROR_LIMIT);
  } catch (error) {
    // No instanceof: fetch's errors may come from another realm (test runners, vm contexts).
    const timedOut = (error as { name?: unknown } | null)?.name === 'TimeoutError';
    const reason = timedOut
      ? `no answer within ${options.timeoutMs} ms`
      : scrubSecrets(describeFailure(error), secrets);
    throw new ALMDeliveryError(`POST ${shownUrl(options.url, secrets)} failed: ${reason}`, count, { retryable: true });
  }
  if (response.ok) return answer;
  const status = response.status;
  if (status >= 300 && status < 400) {
    // Not retried: the same request would be sent to the same place. The batch is set aside, and
    // onError says where to point the endpoint.
    const to = redirectTarget(response.headers.get('location'), options.url, secrets);
    throw new ALMDeliveryError(
      `POST ${shownUrl(options.url, secrets)} answered ${status}, a redirect to ${to}: events are not sent ` +
        `after a redirect; set the endpoint to the URL that takes them (${count} events)`,
      count,
      { status, retryable: false },
    );
  }
  // Scrubbed before it is cut, so that no part of a secret survives at the cut.
  const text = new TextDecoder().decode(answer);
  const excerpt = scrubSecrets(text, secrets).slice(0, EXCERPT_LENGTH).replace(/\s+/g, ' ').trim();
  throw new ALMDeliveryError(
    `POST ${shownUrl(options.url, secrets)} answered ${status}${excerpt ? `: ${excerpt}` : ''} (${count} events)`,
    count,
    {
      status,
      retryable: isRetryableStatus(status),
      retryAfterMs: parseRetryAfter(response.headers.get('retry-after')),
      tooLarge: status === 413,
    },
  );
}

/** Where a redirect points, as a message may show it. */
function redirectTarget(location: string | null, base: string, secrets: readonly string[]): string {
  if (location === null) return 'nowhere (no Location header)';
  try {
    return shownUrl(new URL(location, base).href, secrets);
  } catch {
    return 'an invalid Location';
  }
}

function describeFailure(error: unknown): string {
  const e = error as { message?: unknown; cause?: { code?: unknown; message?: unknown } } | null;
  const message = typeof e?.message === 'string' ? e.message : String(error);
  const detail = e?.cause?.code ?? e?.cause?.message;
  return detail === undefined ? message : `${message} (${String(detail)})`;
}
