/**
 * OTLP/JSON logs (what the otlp sink sends, as the Collector's file exporter writes it: one
 * `{"resourceLogs": [...]}` document per line, or a single document) back into the ALM events they
 * carry: each ALM event record's body is the event's JSON (see events/otlp-log.ts), so the events come
 * back exactly. Records that are not ALM events (other logs in the same pipeline) are counted and
 * skipped; an event delivered twice (a retry) is kept once.
 */
import { eventFromLogRecord, type JsonLogRecord } from '../events/otlp-log';
import { OtlpFormatError } from './otlp';

export interface ConvertedLogs {
  /** The ALM events, in time order (stable: events of one millisecond keep their order). */
  events: Record<string, unknown>[];
  /** Log records read. */
  records: number;
  /** Records that are not ALM events. */
  skipped: number;
  /** Records of an event already read (redelivered). */
  duplicates: number;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function documents(text: string): { doc: unknown; where: string }[] {
  const trimmed = text.trim();
  try {
    return [{ doc: JSON.parse(trimmed), where: 'document' }];
  } catch {
    // Not one document: one per line.
  }
  const docs: { doc: unknown; where: string }[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      docs.push({ doc: JSON.parse(line), where: `line ${i + 1}` });
    } catch (error) {
      throw new OtlpFormatError(`line ${i + 1}`, `not JSON: ${(error as Error).message}`);
    }
  });
  return docs;
}

/** Whether the input is OTLP logs (its first document has `resourceLogs`), without reading all of it. */
export function isOtlpLogs(text: string): boolean {
  return /^\s*\{\s*"resourceLogs"\s*:/.test(text);
}

const array = (v: unknown, where: string): unknown[] => {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new OtlpFormatError(where, 'expected an array');
  return v;
};

export function eventsFromOtlpLogs(text: string): ConvertedLogs {
  const out: ConvertedLogs = { events: [], records: 0, skipped: 0, duplicates: 0 };
  const seen = new Set<unknown>();
  for (const { doc, where } of documents(text)) {
    if (!isObject(doc)) throw new OtlpFormatError(where, 'expected an object with resourceLogs');
    for (const [r, resourceLogs] of array(doc.resourceLogs, `${where}.resourceLogs`).entries()) {
      const at = `${where}.resourceLogs[${r}]`;
      if (!isObject(resourceLogs)) throw new OtlpFormatError(at, 'expected an object');
      for (const [s, scopeLogs] of array(resourceLogs.scopeLogs, `${at}.scopeLogs`).entries()) {
        if (!isObject(scopeLogs)) throw new OtlpFormatError(`${at}.scopeLogs[${s}]`, 'expected an object');
        for (const [l, record] of array(scopeLogs.logRecords, `${at}.scopeLogs[${s}].logRecords`).entries()) {
          const place = `${at}.scopeLogs[${s}].logRecords[${l}]`;
          if (!isObject(record)) throw new OtlpFormatError(place, 'expected an object');
          out.records++;
          let event: unknown;
          try {
            event = eventFromLogRecord(record as JsonLogRecord);
          } catch (error) {
            throw new OtlpFormatError(`${place}.body`, (error as Error).message);
          }
          if (event === undefined) {
            out.skipped++;
            continue;
          }
          if (!isObject(event)) throw new OtlpFormatError(`${place}.body`, 'expected an ALM event object');
          if (seen.has(event.event_id)) {
            out.duplicates++;
            continue;
          }
          seen.add(event.event_id);
          out.events.push(event);
        }
      }
    }
  }
  const time = (e: Json) => (typeof e.timestamp === 'string' ? Date.parse(e.timestamp) : 0);
  out.events.sort((a, b) => time(a) - time(b));
  return out;
}
