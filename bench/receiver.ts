/**
 * A loopback ALM ingest endpoint in its own process, for the delivery benchmark: POST /v1/events,
 * parses the JSON body as a real receiver must, keeps each event_id, answers 200. Driven over IPC:
 * it sends {port} when listening; {count: true} is answered with the number of distinct event_ids
 * and requests so far, and its CPU time; {reset: true} forgets them.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

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
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events: Event[] };
    for (const event of body.events) {
      ids.add(event.event_id);
      const inputs = event.event_type === 'tool.request' ? event.metadata.args?.inputs : undefined;
      if (inputs?.label !== undefined) calls.add(`${inputs.label}/${inputs.i}`);
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
