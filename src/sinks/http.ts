/** POSTs each batch to `{endpoint}/v1/events` as `{"events": [...]}`. */
import { ALMDeliveryError } from '../errors';
import type { EventSink } from '../events/pipeline';
import type { ALMEvent } from '../events/schema';

export interface HttpSinkOptions {
  endpoint: string;
  apiKey?: string;
  timeoutMs: number;
}

export class HttpSink implements EventSink {
  private readonly url: string;
  private readonly headers: Record<string, string>;

  constructor(private readonly options: HttpSinkOptions) {
    this.url = options.endpoint.replace(/\/+$/, '') + '/v1/events';
    this.headers = { 'content-type': 'application/json' };
    if (options.apiKey !== undefined) this.headers.authorization = `Bearer ${options.apiKey}`;
  }

  async write(events: ALMEvent[]): Promise<void> {
    const response = await fetch(this.url, {
      method: 'POST',
      headers: this.headers,
      body: JSON.stringify({ events }),
      signal: AbortSignal.timeout(this.options.timeoutMs),
    });
    const body = await response.text();
    if (!response.ok) {
      throw new ALMDeliveryError(`POST ${this.url} answered ${response.status}: ${body.slice(0, 200)}`, events.length);
    }
  }
}
