// alm.mcpClient / alm.mcpServer with the real @modelcontextprotocol/sdk 1.x, over the in-memory
// transport (one process, two ALM instances) and over stdio (a real child process server). No global
// propagator is registered anywhere: the caller's trace and run travel in `params._meta` alone.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { propagation, SpanKind } from '@opentelemetry/api';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { ALM, ToolDeniedError } from 'alm-otel';
import { setup } from './helpers.mjs';
import { checkOverStdio } from './mcp/stdio.mjs';

function serverAlm(events) {
  return new ALM({
    agentId: 'mcp-server',
    policy: { deniedTools: ['drop_table'] },
    events: { sink: (batch) => void events.push(...batch), flushIntervalMs: 5, flushOnExit: false },
  });
}

/** An McpServer with `echo`, `drop_table` and `broken` (returns isError), counting handler runs. */
function toolServer(ran, seenMeta) {
  const server = new McpServer({ name: 'tools', version: '1.0.0' });
  for (const name of ['echo', 'drop_table', 'secret']) {
    server.registerTool(name, { inputSchema: { text: z.string() } }, async ({ text }, extra) => {
      ran.push(name);
      seenMeta.push(extra._meta);
      return { content: [{ type: 'text', text }] };
    });
  }
  server.registerTool('broken', { inputSchema: {} }, async () => ({
    content: [{ type: 'text', text: 'disk full' }],
    isError: true,
  }));
  return server;
}

test('in memory: client policy before the request, server policy before the handler, one trace, the caller run_id', async () => {
  assert.deepEqual(propagation.fields(), [], 'no global propagator');
  const h = setup({ policy: { deniedTools: ['secret'] } });
  const serverEvents = [];
  const ran = [];
  const seenMeta = [];
  const salm = serverAlm(serverEvents);
  // Wrapped before its tools are registered: McpServer sets its tools/call handler with the first tool.
  const server = salm.mcpServer(new McpServer({ name: 'tools', version: '1.0.0' }));
  const registered = toolServer(ran, seenMeta);
  // And one wrapped after: both ways reach the handler through alm.
  salm.mcpServer(registered);
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await registered.connect(serverSide);
  const client = h.alm.mcpClient(new Client({ name: 'agent', version: '1.0.0' }));
  await client.connect(clientSide);
  assert.equal(h.alm.mcpClient(client), client, 'wrapping twice wraps once');

  let runInfo;
  await h.alm.run({ purpose: 'mcp' }, async (run) => {
    runInfo = run;
    const echoed = await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
    assert.deepEqual(echoed.content, [{ type: 'text', text: 'hi' }]);
    await assert.rejects(client.callTool({ name: 'secret', arguments: { text: 'x' } }), ToolDeniedError);
    const refused = await client.callTool({ name: 'drop_table', arguments: { text: 'users' } });
    assert.equal(refused.isError, true);
    assert.match(refused.content[0].text, /drop_table.*denied/);
    const broken = await client.callTool({ name: 'broken', arguments: {} });
    assert.equal(broken.isError, true);
  });
  await salm.flush();
  const events = await h.flush();

  assert.deepEqual(ran, ['echo'], 'denied by the client: never sent; denied by the server: handler never ran');
  // What the server received: W3C trace context of the client's span, and the run's id in the baggage.
  assert.match(seenMeta[0].traceparent, new RegExp(`^00-${runInfo.traceId}-[0-9a-f]{16}-01$`));
  assert.match(seenMeta[0].baggage, new RegExp(`alm\\.run_id=${runInfo.runId}`));

  const spans = h.spans();
  const clientEcho = spans.find((s) => s.name === 'tools/call echo' && s.kind === SpanKind.CLIENT);
  const serverEcho = spans.find((s) => s.name === 'tools/call echo' && s.kind === SpanKind.SERVER);
  assert.ok(clientEcho && serverEcho, 'a CLIENT and a SERVER span for the call');
  assert.equal(clientEcho.spanContext().traceId, runInfo.traceId);
  assert.equal(serverEcho.spanContext().traceId, runInfo.traceId, "the server span is in the client run's trace");
  assert.equal(serverEcho.parentSpanContext.spanId, clientEcho.spanContext().spanId);
  for (const s of [clientEcho, serverEcho]) {
    assert.equal(s.attributes['mcp.method.name'], 'tools/call');
    assert.equal(s.attributes['gen_ai.operation.name'], 'execute_tool');
    assert.equal(s.attributes['gen_ai.tool.name'], 'echo');
    assert.equal(s.attributes['alm.run.id'], runInfo.runId);
    assert.match(String(s.attributes['jsonrpc.request.id']), /^\d+$/);
  }
  assert.equal(clientEcho.attributes['jsonrpc.request.id'], serverEcho.attributes['jsonrpc.request.id']);
  const clientBroken = spans.find((s) => s.name === 'tools/call broken' && s.kind === SpanKind.CLIENT);
  assert.equal(clientBroken.attributes['error.type'], 'tool_error');
  const serverBroken = spans.find((s) => s.name === 'tools/call broken' && s.kind === SpanKind.SERVER);
  assert.equal(serverBroken.attributes['error.type'], 'tool_error', JSON.stringify(serverBroken.attributes));
  const clientRefused = spans.find((s) => s.name === 'tools/call drop_table' && s.kind === SpanKind.CLIENT);
  assert.equal(clientRefused.attributes['error.type'], 'tool_error', 'the server refusal reads as a tool error');

  // Client events: the tool's arguments only; server events: under the client's run.
  const request = events.find((e) => e.event_type === 'tool.request' && e.metadata.tool_name === 'echo');
  assert.deepEqual(request.metadata.args, { inputs: { text: 'hi' } }, 'the arguments only, not _meta');
  const secret = events.filter((e) => e.metadata?.tool_name === 'secret' && e.event_type === 'tool.response');
  assert.equal(secret[0].metadata.status, 'denied');
  const serverTools = serverEvents.filter((e) => e.event_type.startsWith('tool.'));
  assert.ok(serverTools.length >= 6, 'echo, drop_table, broken: request and response each');
  for (const e of serverTools) assert.equal(e.run_id, runInfo.runId, `${e.event_type} ${e.metadata.tool_name}`);
  const denied = serverEvents.find((e) => e.event_type === 'tool.response' && e.metadata.tool_name === 'drop_table');
  assert.equal(denied.metadata.status, 'denied');
  assert.equal(serverEvents.filter((e) => e.event_type.startsWith('run.')).length, 0, 'no run of its own');

  await client.close();
  await server.close();
  await salm.shutdown();
  await h.close();
});

test('stdio: a server in a child process runs under the client run trace and records under its run_id', async () => {
  assert.deepEqual(propagation.fields(), [], 'no global propagator');
  await checkOverStdio(setup());
});
