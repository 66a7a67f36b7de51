/**
 * POSTs each batch to `{endpoint}/v1/events` as `{"events": [...]}`; how an answer is read and what
 * a failure means for delivery is post.ts's. Connections are kept alive by Node's fetch. The API key
 * is only ever in the request header: never in an error message.
 */
import type { EventSink } from '../delivery/delivery';
import type { ALMEvent } from '../events/schema';
import { post } from './post';

export interface HttpSinkOptions {
  endpoint: string;
  apiKey?: string;
  timeoutMs: number;
}

/** The ingest URL: `/v1/events` appended to the endpoint's path (a query string stays where it is). */
export function eventsUrl(endpoint: string): URL {
  const url = new URL(endpoint);
  url.pathname = url.pathname.replace(/\/+$/, '') + '/v1/events';
  return url;
}

export class HttpSink implements EventSink {
  /** Takes a batch as one body, `{"events":[...]}`, and several batches in flight at once. */
  readonly framing = { head: '{"events":[', separator: ',', tail: ']}' };
  readonly concurrent = true;
  // Private fields: the key stays out of util.inspect(), JSON.stringify() and enumeration.
  readonly #url: string;
  readonly #headers: Record<string, string>;
  readonly #secrets: readonly string[];
  readonly #timeoutMs: number;

  constructor(options: HttpSinkOptions) {
    this.#url = eventsUrl(options.endpoint).href;
    this.#secrets = options.apiKey === undefined ? [] : [options.apiKey];
    this.#timeoutMs = options.timeoutMs;
    this.#headers = { 'content-type': 'application/json' };
    if (options.apiKey !== undefined) this.#headers.authorization = `Bearer ${options.apiKey}`;
  }

  write(events: ALMEvent[]): Promise<void> {
    return this.writeBody(JSON.stringify({ events }), events.length);
  }

  async writeBody(body: Uint8Array | string, count: number): Promise<void> {
    await post({
      url: this.#url,
      headers: this.#headers,
      body,
      timeoutMs: this.#timeoutMs,
      count,
      secrets: this.#secrets,
    });
  }
}
