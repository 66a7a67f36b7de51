// Seam 4: OpenLLMetry's MCP instrumentation (@traceloop/instrumentation-mcp) parents every request
// span under the `mcp.client.session` span it starts at connect(), so its tool spans sit in the
// session's trace, not the run's. alm's events for such a call carry the run's trace (where the call
// was made); with alm.mcpClient, alm's own CLIENT span reports the call, once, in the run's trace.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { McpInstrumentation } from '@traceloop/instrumentation-mcp';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { setup, toolCallsSummary } from './helpers.mjs';

const instrumentation = new McpInstrumentation({ traceContent: true });
instrumentation.manuallyInstrument({ Client });

async function connected(h, wrap) {
  instrumentation.setTracerProvider(h.provider);
  const server = new McpServer({ name: 'tools', version: '1.0.0' });
  server.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text }) => ({
    content: [{ type: 'text', text }],
  }));
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: 'agent', version: '1.0.0' });
  if (wrap) h.alm.mcpClient(client);
  await client.connect(clientSide); // outside the run, as applications do: the session span's trace
  return { client, server };
}

/** One `echo` call in a run, over a connected client; the run's handle and every event. */
async function echoInRun(h, wrap) {
  const { client, server } = await connected(h, wrap);
  let runInfo;
  await h.alm.run(async (run) => {
    runInfo = run;
    await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
  });
  await client.close();
  await server.close();
  return { runInfo, events: await h.flush() };
}

test("OpenLLMetry MCP alone: the tool's events carry the run's trace, not the session's", async () => {
  const h = setup();
  const { runInfo, events } = await echoInRun(h, false);
  const session = h.spans().find((s) => s.name === 'mcp.client.session');
  const toolSpan = h.spans().find((s) => s.name === 'echo.tool');
  assert.equal(toolSpan.spanContext().traceId, session.spanContext().traceId, "OpenLLMetry's own parenting");
  assert.notEqual(session.spanContext().traceId, runInfo.traceId);
  const toolEvents = events.filter((e) => e.event_type.startsWith('tool.') || e.event_type === 'policy.decision');
  assert.equal(toolEvents.length, 3);
  for (const e of toolEvents) {
    assert.equal(e.trace_id, runInfo.traceId, `${e.event_type}: the run's trace`);
    assert.equal(e.run_id, runInfo.runId);
  }
  await h.close();
});

test('OpenLLMetry MCP with alm.mcpClient: one call, reported by alm in the run trace', async () => {
  const h = setup();
  const { runInfo, events } = await echoInRun(h, true);
  const toolSpan = h.spans().find((s) => s.name === 'echo.tool');
  assert.equal(toolSpan.attributes['alm.tool.wrapped'], true, 'the instrumentation span is the same call');
  const requests = events.filter((e) => e.event_type === 'tool.request');
  assert.equal(requests.length, 1, 'reported once');
  for (const e of events.filter((e) => e.event_type.startsWith('tool.'))) assert.equal(e.trace_id, runInfo.traceId);
  assert.equal(toolCallsSummary(events).total, 1);
  await h.close();
});
