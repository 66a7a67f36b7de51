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

function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

export class HttpSink implements EventSink {
  readonly serialized = true;
  readonly concurrent = true;
  private readonly url: string;
  /** The URL as it may appear in messages: without any credentials in it. */
  private readonly shownUrl: string;
  private readonly headers: Record<string, string>;

  constructor(private readonly options: HttpSinkOptions) {
    const url = new URL(options.endpoint.replace(/\/+$/, '') + '/v1/events');
    this.url = url.href;
    url.username = '';
    url.password = '';
    this.shownUrl = url.href;
    this.headers = { 'content-type': 'application/json' };
    if (options.apiKey !== undefined) this.headers.authorization = `Bearer ${options.apiKey}`;
  }

  async write(events: ALMEvent[], lines?: readonly string[]): Promise<void> {
    const count = events.length;
    let response: Response;
    let body: string;
    try {
      response = await fetch(this.url, {
        method: 'POST',
        headers: this.headers,
        body: lines === undefined ? JSON.stringify({ events }) : `{"events":[${lines.join(',')}]}`,
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      body = await response.text();
    } catch (error) {
      // No instanceof: fetch's errors may come from another realm (test runners, vm contexts).
      const timedOut = (error as { name?: unknown } | null)?.name === 'TimeoutError';
      const reason = timedOut ? `no answer within ${this.options.timeoutMs} ms` : this.describe(error);
      throw new ALMDeliveryError(`POST ${this.shownUrl} failed: ${reason}`, count, { retryable: true });
    }
    if (response.ok) return;
    const status = response.status;
    const excerpt = this.scrub(body).slice(0, EXCERPT_LENGTH).replace(/\s+/g, ' ').trim();
    throw new ALMDeliveryError(
      `POST ${this.shownUrl} answered ${status}${excerpt ? `: ${excerpt}` : ''} (${count} events)`,
      count,
      {
        status,
        retryable: isRetryableStatus(status),
        retryAfterMs: parseRetryAfter(response.headers.get('retry-after')),
        tooLarge: status === 413,
      },
    );
  }

  private describe(error: unknown): string {
    const e = error as { message?: unknown; cause?: { code?: unknown; message?: unknown } } | null;
    const message = typeof e?.message === 'string' ? e.message : String(error);
    const detail = e?.cause?.code ?? e?.cause?.message;
    return this.scrub(detail === undefined ? message : `${message} (${String(detail)})`);
  }

  /** A receiver may echo the request back; the key must not travel on in a message, in any encoding. */
  private scrub(text: string): string {
    const key = this.options.apiKey;
    if (key === undefined) return text;
    for (const form of new Set([key, JSON.stringify(key).slice(1, -1), encodeURIComponent(key)])) {
      text = text.split(form).join('***');
    }
    return text;
  }
}
