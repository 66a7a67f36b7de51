// The stdio case shared by mcp.test.mjs and mcp-openinference.test.mjs: a client run calling the
// server in mcp/server-child.mjs (a real child process), and what the child saw, checked.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpanKind } from '@opentelemetry/api';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const here = new URL('.', import.meta.url).pathname;

function readLines(file) {
  return existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line))
    : [];
}

async function waitFor(check, what) {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** `h`: frameworks-test's setup(). Closes it. */
export async function checkOverStdio(h) {
  const out = join(tmpdir(), `alm-mcp-child-${process.pid}-${Date.now()}.jsonl`);
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [join(here, 'server-child.mjs')],
    env: { ...process.env, MCP_CHILD_OUT: out },
    cwd: join(here, '..'),
    stderr: 'inherit',
  });
  const client = h.alm.mcpClient(new Client({ name: 'agent', version: '1.0.0' }));
  await client.connect(transport);
  let runInfo;
  try {
    await h.alm.run(async (run) => {
      runInfo = run;
      const echoed = await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
      assert.deepEqual(echoed.content, [{ type: 'text', text: 'HI' }]);
      const refused = await client.callTool({ name: 'drop_table', arguments: { text: 'users' } });
      assert.equal(refused.isError, true);
      assert.match(refused.content[0].text, /drop_table/);
    });
    const lines = () => readLines(out);
    await waitFor(
      () => lines().filter((l) => l.event?.event_type === 'tool.response').length >= 3,
      "the child's events",
    );
    const records = lines();
    assert.deepEqual(
      records.filter((l) => l.error),
      [],
      'the child reported no errors',
    );
    assert.deepEqual(
      records.filter((l) => l.ran).map((l) => [l.ran, l.runId]),
      [['echo', runInfo.runId]],
      'the denied handler ran 0 times; the allowed one saw the caller run',
    );
    const serverSpan = records.find((l) => l.span?.name === 'tools/call echo')?.span;
    assert.ok(serverSpan, 'the server span');
    assert.equal(serverSpan.kind, SpanKind.SERVER);
    assert.equal(serverSpan.traceId, runInfo.traceId, "the server span has the client run's trace_id");
    const clientSpan = h.spans().find((s) => s.name === 'tools/call echo');
    assert.equal(serverSpan.parentSpanId, clientSpan.spanContext().spanId);
    const toolEvents = records.filter((l) => l.event?.event_type.startsWith('tool.')).map((l) => l.event);
    assert.deepEqual([...new Set(toolEvents.map((e) => e.metadata.tool_name))].sort(), ['drop_table', 'echo', 'shout']);
    for (const e of toolEvents) assert.equal(e.run_id, runInfo.runId, `${e.event_type} ${e.metadata.tool_name}`);
    const shout = records.find((l) => l.span?.name === 'execute_tool shout')?.span;
    assert.equal(shout.traceId, runInfo.traceId, 'a nested alm tool in the handler joins the trace');
  } finally {
    await client.close();
    rmSync(out, { force: true });
    await h.close();
  }
}
