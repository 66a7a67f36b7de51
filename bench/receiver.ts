/**
 * A loopback ALM ingest endpoint in its own process, for the delivery benchmark: POST /v1/events,
 * keeps each event_id, answers 200. Driven over IPC: it sends {port} when listening; {count: true}
 * is answered with the number of distinct event_ids and requests so far, and its CPU time;
 * {reset: true} forgets them.
 *
 * By default it reads the event_ids off the bytes (`"event_id":"<36 characters>"`, as alm writes
 * them) without parsing, as cheap as an ingest that queues the body for later (a collector's
 * receiver): the figure is then alm's drain, not JSON.parse's. A body that carries `"label":` (the
 * spool crash figures' calls) is parsed. RECEIVER_PARSE=1 parses every body (about 5 µs per event
 * on this machine's cores: at 150k events/s, most of a core of its own).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const PARSE = process.env.RECEIVER_PARSE === '1';
const EVENT_ID = Buffer.from('{"event_id":"');
const LABEL = Buffer.from('"label":');
const ids = new Set<string>();
/** `${label}/${i}` of each tool.request whose inputs carry them (the spool crash figures). */
const calls = new Set<string>();
let requests = 0;

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    type Event = {
      event_id: string;
      event_type: string;
      metadata: { args?: { inputs?: { label?: string; i?: number } } };
    };
    const raw = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    if (PARSE || raw.includes(LABEL)) {
      const body = JSON.parse(raw.toString('utf8')) as { events: Event[] };
      for (const event of body.events) {
        ids.add(event.event_id);
        const inputs = event.event_type === 'tool.request' ? event.metadata.args?.inputs : undefined;
        if (inputs?.label !== undefined) calls.add(`${inputs.label}/${inputs.i}`);
      }
    } else {
      for (let at = raw.indexOf(EVENT_ID); at >= 0; at = raw.indexOf(EVENT_ID, at + EVENT_ID.length + 36)) {
        ids.add(raw.toString('latin1', at + EVENT_ID.length, at + EVENT_ID.length + 36));
      }
    }
    requests++;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"accepted":true}');
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as AddressInfo).port }));
process.on('message', (message: { count?: boolean; reset?: boolean; calls?: boolean }) => {
  if (message.reset) {
    ids.clear();
    calls.clear();
    requests = 0;
  }
  if (message.calls) {
    process.send!({ calls: [...calls] });
    return;
  }
  const cpu = process.cpuUsage();
  process.send!({ received: ids.size, requests, cpuUs: cpu.user + cpu.system });
});
process.on('disconnect', () => process.exit(0));
