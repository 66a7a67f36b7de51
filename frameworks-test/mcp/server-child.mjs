// A real MCP server in its own process, on stdio, made observable with alm.mcpServer. It registers no
// propagator (only a tracer provider): the caller's trace and run come through `params._meta` alone.
// What it saw goes to files named by the parent: its spans, its ALM events, and each handler run.
import { appendFileSync } from 'node:fs';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';
import { ALM } from 'alm-otel';

const out = process.env.MCP_CHILD_OUT;
const write = (record) => appendFileSync(out, JSON.stringify(record) + '\n');

const alm = new ALM({
  agentId: 'mcp-server',
  policy: { deniedTools: ['drop_table'] },
  events: { sink: (batch) => batch.forEach((event) => write({ event })), flushIntervalMs: 5, flushOnExit: false },
  onError: (error) => write({ error: String(error) }),
});
const exporter = {
  export(spans, done) {
    for (const s of spans) {
      write({
        span: {
          name: s.name,
          kind: s.kind,
          traceId: s.spanContext().traceId,
          parentSpanId: s.parentSpanContext?.spanId,
          attributes: s.attributes,
        },
      });
    }
    done({ code: 0 });
  },
  shutdown: async () => {},
};
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(
  new TracerProvider({ spanProcessors: [...alm.spanProcessors, new SimpleSpanProcessor({ exporter })] }),
);

const server = alm.mcpServer(new McpServer({ name: 'child', version: '1.0.0' }));
for (const name of ['echo', 'drop_table']) {
  server.registerTool(name, { inputSchema: { text: z.string() } }, async ({ text }) => {
    write({ ran: name, runId: alm.currentRunId() });
    // An alm tool inside the handler: a nested call, recorded under the caller's run too.
    const shout = alm.tool('shout', (s) => s.toUpperCase());
    return { content: [{ type: 'text', text: shout(text) }] };
  });
}
await server.connect(new StdioServerTransport());
