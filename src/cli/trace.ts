/**
 * `alm-otel trace <trace_id>`: one trace fetched from Jaeger's HTTP query API (api/v3, which answers
 * OTLP/JSON wrapped in `{"result": ...}`), turned into ALM events by the very path `convert` takes,
 * and drawn as `tree` draws them: tasks, calls with their policy decisions, the run summary.
 */
import { errorCode, UsageError } from './common';
import { convertSpans, OtlpFormatError, spansOf, type Converted } from './otlp';

/** Where Jaeger's query service listens unless told (`--jaeger`, ALM_OTEL_JAEGER_URL). */
export const DEFAULT_JAEGER_URL = 'http://localhost:16686';

/** A trace that could not be fetched or read: the message says why, in a sentence. */
export class TraceFetchError extends Error {
  override name = 'TraceFetchError';
}

/** The largest answer read (a trace of ~100k spans); past it the trace is refused rather than held. */
const MAX_ANSWER_BYTES = 256 * 1024 * 1024;

export function traceIdArg(value: string | undefined): string {
  if (value === undefined) throw new UsageError('trace: missing the trace id (32 hex characters)');
  if (!/^[0-9a-fA-F]{32}$/.test(value)) {
    throw new UsageError(`trace: a trace id is 32 hex characters, got ${JSON.stringify(value)}`);
  }
  return value.toLowerCase();
}

export function jaegerUrlArg(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`trace: --jaeger must be a URL such as ${DEFAULT_JAEGER_URL}, got ${JSON.stringify(value)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`trace: --jaeger must be an http(s) URL, got ${JSON.stringify(value)}`);
  }
  return url;
}

async function readBounded(response: Response): Promise<string> {
  const reader = response.body?.getReader();
  if (reader === undefined) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_ANSWER_BYTES) {
      await reader.cancel();
      throw new TraceFetchError(`Jaeger's answer is larger than ${MAX_ANSWER_BYTES / (1024 * 1024)} MiB`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** GET {jaeger}/api/v3/traces/{traceId}, converted into ALM events. */
export async function fetchTrace(
  jaeger: URL,
  traceId: string,
  options: { timeoutMs: number; llmEvents?: boolean },
): Promise<Converted> {
  const base = jaeger.href.replace(/\/+$/, '');
  const url = `${base}/api/v3/traces/${traceId}`;
  let response: Response;
  try {
    response = await fetch(url, {
      signal: AbortSignal.timeout(options.timeoutMs),
      headers: { accept: 'application/json' },
    });
  } catch (error) {
    const cause = (error as { cause?: unknown }).cause;
    const why =
      (error as Error).name === 'TimeoutError' ? `no answer within ${options.timeoutMs} ms` : errorCode(cause ?? error);
    throw new TraceFetchError(
      `cannot reach Jaeger at ${base} (${why}). Is its query service running there? ` +
        `Point --jaeger (or ALM_OTEL_JAEGER_URL) at it, e.g. ${DEFAULT_JAEGER_URL}.`,
    );
  }
  if (response.status === 404) {
    await response.body?.cancel();
    throw new TraceFetchError(
      `trace ${traceId} not found in Jaeger at ${base} (spans reach Jaeger a few seconds after they end; ` +
        'check the id, and the time the trace is kept)',
    );
  }
  if (!response.ok) {
    const body = (await readBounded(response)).slice(0, 300).replace(/\s+/g, ' ');
    throw new TraceFetchError(`Jaeger at ${base} answered ${url} with HTTP ${response.status}: ${body}`);
  }
  const text = await readBounded(response);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new TraceFetchError(
      `Jaeger at ${base} answered ${url} with something that is not JSON (is this Jaeger's query service?): ${text.slice(0, 120)}`,
    );
  }
  try {
    return convertSpans(spansOf(doc, 'Jaeger answer'), { llmEvents: options.llmEvents });
  } catch (error) {
    if (error instanceof OtlpFormatError) {
      throw new TraceFetchError(`Jaeger at ${base} answered with a document alm-otel cannot read: ${error.message}`);
    }
    throw error;
  }
}
