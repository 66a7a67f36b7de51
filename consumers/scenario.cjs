/**
 * The agent scenario every runtime cell of the consumer matrix runs, and its checks. It imports
 * nothing: each cell's app (app.cjs, app.mjs, app-require.mjs) loads alm-otel and the OpenTelemetry
 * SDK in its own module format and passes them in, with `setup`, which registers the cell's provider.
 * ALM is built first and the provider registered after it, in the README's order.
 */
'use strict';

const HEX32 = /^[0-9a-f]{32}$/;

function check(condition, message) {
  if (!condition) throw new Error(message);
}

/**
 * @param {object} cell
 * @param {Function} cell.ALM
 * @param {Function} cell.ToolDeniedError
 * @param {(alm: object) => Promise<{ tracer: object, spans: () => Promise<object[]>, shutdown: () => Promise<void> }>} cell.setup
 */
async function runScenario({ ALM, ToolDeniedError, setup }) {
  const events = [];
  const alm = new ALM({
    agentId: 'consumer-agent',
    policy: { allowedTools: ['search', 'delete_*'], deniedTools: ['delete_*'] },
    events: {
      sink: (batch) => {
        events.push(...batch);
      },
      flushOnExit: false,
    },
  });
  const otel = await setup(alm);

  const search = alm.tool('search', async ({ query }) => `results for ${query}`);
  let deleteRan = false;
  const deleteAll = alm.tool('delete_all', () => {
    deleteRan = true;
  });
  let denied;
  const answer = await alm.run({ purpose: 'consumer matrix' }, () =>
    alm.task({ type: 'research', description: 'look it up' }, async () => {
      const found = await search({ query: 'otel' });
      try {
        deleteAll();
      } catch (error) {
        denied = error;
      }
      // Another instrumentation's tool span: alm.spanProcessors must decide it (they are in the provider).
      otel.tracer.startActiveSpan(
        'execute_tool delete_files',
        { attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'delete_files' } },
        (span) => span.end(),
      );
      return found;
    }),
  );
  await alm.flush();
  const spans = await otel.spans();
  await alm.shutdown();
  await otel.shutdown();

  check(answer === 'results for otel', `run returned ${JSON.stringify(answer)}`);
  check(denied instanceof ToolDeniedError, `the denied tool threw ${denied}, not ToolDeniedError`);
  check(!deleteRan, 'the denied tool body ran');

  const named = (name) => {
    const found = spans.filter((s) => s.name === name);
    check(
      found.length === 1,
      `expected one span '${name}', got ${found.length} (spans: ${spans.map((s) => s.name).join(', ') || 'none'})`,
    );
    return found[0];
  };
  const run = named('invoke_agent consumer-agent');
  const task = named('task research');
  const tool = named('execute_tool search');
  const deniedSpan = named('execute_tool delete_all');
  const foreign = named('execute_tool delete_files');
  const traceId = run.spanContext().traceId;
  check(HEX32.test(traceId), `run span trace id ${traceId}`);
  const parentOf = (span) => span.parentSpanContext?.spanId ?? span.parentSpanId;
  check(parentOf(task) === run.spanContext().spanId, 'task span is not a child of the invoke_agent span');
  check(parentOf(tool) === task.spanContext().spanId, 'execute_tool search is not a child of the task span');
  check(parentOf(deniedSpan) === task.spanContext().spanId, 'execute_tool delete_all is not a child of the task span');
  check(parentOf(foreign) === task.spanContext().spanId, 'the foreign tool span is not a child of the task span');
  for (const span of [task, tool, deniedSpan, foreign]) {
    check(span.spanContext().traceId === traceId, `span '${span.name}' is in another trace`);
  }
  check(deniedSpan.attributes['alm.policy.decision'] === 'deny', 'the denied tool span has no deny decision');
  check(
    foreign.attributes['alm.policy.decision'] === 'deny',
    'the foreign tool span was not decided: alm.spanProcessors did not run',
  );

  const spanIds = new Set(spans.map((s) => s.spanContext().spanId));
  check(events.length > 0, 'no events');
  for (const event of events) {
    check(HEX32.test(event.trace_id ?? ''), `${event.event_type} has trace_id ${event.trace_id}`);
    check(event.trace_id === traceId, `${event.event_type} is linked to trace ${event.trace_id}, not ${traceId}`);
    check(spanIds.has(event.span_id), `${event.event_type} span_id ${event.span_id} names no exported span`);
  }
  const types = events.map((e) => e.event_type);
  for (const type of [
    'run.start',
    'task.start',
    'tool.request',
    'policy.decision',
    'tool.response',
    'task.end',
    'run.end',
  ]) {
    check(types.includes(type), `no ${type} event (got ${types.join(', ')})`);
  }
  const deniedResponse = events.find((e) => e.event_type === 'tool.response' && e.metadata.tool_name === 'delete_all');
  check(deniedResponse?.metadata.status === 'denied', 'no denied tool.response for delete_all');
  const foreignDecision = events.find(
    (e) => e.event_type === 'policy.decision' && e.metadata.tool_name === 'delete_files',
  );
  check(foreignDecision?.metadata.decision === 'deny', 'no deny policy.decision for the foreign tool span');
  const otlpRecords = await otlpSink(ALM);
  return { spans: spans.length, events: events.length, traceId, otlpRecords };
}

/**
 * The otlp sink, as this cell's module format loads it: the project's own @opentelemetry/otlp-transformer
 * (the line of its other OpenTelemetry packages) encodes the events as log records, to an OTLP/HTTP
 * receiver on 127.0.0.1. Returns the number of records received.
 */
async function otlpSink(ALM) {
  const http = require('node:http');
  const bodies = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      if (req.url === '/v1/logs') bodies.push(body);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const alm = new ALM({
      agentId: 'consumer-agent',
      policy: { deniedTools: ['delete_*'] },
      events: {
        sink: 'otlp',
        endpoint: `http://127.0.0.1:${server.address().port}`,
        otlpProtocol: 'http/json',
        flushOnExit: false,
      },
    });
    const search = alm.tool('search', async ({ query }) => `results for ${query}`);
    const deleteAll = alm.tool('delete_all', () => undefined);
    await alm.run({ purpose: 'consumer matrix' }, () =>
      alm.task({ type: 'research', description: 'look it up' }, async () => {
        await search({ query: 'otel' });
        try {
          deleteAll();
        } catch {
          // denied
        }
      }),
    );
    await alm.shutdown();
    const stats = alm.stats();
    check(stats.delivered === stats.emitted && stats.failed === 0, `otlp sink: ${JSON.stringify(stats)}`);
    const records = bodies.flatMap((body) =>
      JSON.parse(body).resourceLogs.flatMap((r) => r.scopeLogs.flatMap((s) => s.logRecords)),
    );
    check(records.length === stats.emitted, `otlp sink: ${records.length} records for ${stats.emitted} events`);
    for (const record of records) {
      const event = JSON.parse(record.body.stringValue);
      check(record.eventName === `alm.${event.event_type}`, `otlp record named ${record.eventName}`);
    }
    return records.length;
  } finally {
    server.close();
  }
}

module.exports = { runScenario, check };
