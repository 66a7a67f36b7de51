/**
 * alm.mcpClient / alm.mcpServer at their edges: hostile arguments and results. The objects here are
 * shaped like the SDK's (`callTool`; `_requestHandlers` + `setRequestHandler`) and stand in for it;
 * the real @modelcontextprotocol/sdk, over in-memory and stdio transports, is in frameworks-test/mcp*.
 */
import { SpanKind } from '@opentelemetry/api';
import { ALM, ToolDeniedError } from '../../src';
import { createHarness, type Harness } from '../helpers/harness';

type Params = { name?: unknown; arguments?: unknown; _meta?: unknown };

/** Client-shaped: records what would have been sent. */
function clientLike(result: unknown = { content: [{ type: 'text', text: 'ok' }] }) {
  const sent: unknown[][] = [];
  return {
    sent,
    _requestMessageId: 4,
    transport: { sessionId: 'session-1' },
    async callTool(...args: unknown[]) {
      sent.push(args);
      return result;
    },
  };
}

/** Server-shaped: a Protocol's handler map, and what ran. */
function serverLike() {
  const ran: string[] = [];
  const handlers = new Map<string, (request: unknown, extra: unknown) => Promise<unknown>>();
  const protocol = {
    _requestHandlers: handlers,
    setRequestHandler(method: string, handler: (request: unknown, extra: unknown) => Promise<unknown>) {
      handlers.set(method, handler);
    },
  };
  const callHandler = async (request: unknown) => {
    const params = (request as { params: { name: string } }).params;
    ran.push(params.name);
    return { content: [{ type: 'text', text: params.name }] };
  };
  return { ran, handlers, server: { server: protocol }, protocol, callHandler };
}

const request = (name: unknown, meta?: unknown) => ({
  jsonrpc: '2.0',
  id: 9,
  method: 'tools/call',
  params: { name, arguments: { q: 1 }, _meta: meta },
});

describe('alm.mcpClient', () => {
  let h: Harness;
  beforeEach(() => (h = createHarness({ alm: { policy: { deniedTools: ['rm'] } } })));
  afterEach(() => h.close());

  it('refuses what is not a client, naming it', () => {
    for (const bad of [null, undefined, 42, {}, { callTool: 'x' }]) {
      expect(() => h.alm.mcpClient(bad as object)).toThrow(/alm.mcpClient: expected an MCP Client/);
    }
  });

  it('sends nothing for a denied call; keeps _meta entries; passes unnamed calls through', async () => {
    const client = h.alm.mcpClient(clientLike());
    await expect(client.callTool({ name: 'rm', arguments: {} })).rejects.toBeInstanceOf(ToolDeniedError);
    expect(client.sent).toEqual([]);
    await h.alm.run(() => client.callTool({ name: 'ls', arguments: { dir: '/' }, _meta: { progressToken: 1 } }));
    const [sentParams] = client.sent[0] as [Params];
    expect(sentParams._meta).toEqual(
      expect.objectContaining({ progressToken: 1, traceparent: expect.stringMatching(/^00-/) }),
    );
    expect(String((sentParams._meta as Record<string, unknown>).baggage)).toMatch(/^alm\.run_id=/);
    await client.callTool('not params' as never);
    expect(client.sent[1]).toEqual(['not params']);
    const span = h.span('tools/call ls');
    expect(span.kind).toBe(SpanKind.CLIENT);
    expect(span.attributes).toEqual(
      expect.objectContaining({ 'mcp.session.id': 'session-1', 'jsonrpc.request.id': '4' }),
    );
  });

  it('a hostile _meta costs the context, not the call; an isError result is a tool_error', async () => {
    const client = h.alm.mcpClient(clientLike({ isError: true, content: [{ type: 'text', text: 'boom' }] }));
    const meta = Object.defineProperty({}, 'x', {
      enumerable: true,
      get() {
        throw new Error('hostile getter');
      },
    });
    const result = await client.callTool({ name: 'ls', arguments: {}, _meta: meta });
    expect(result).toEqual({ isError: true, content: [{ type: 'text', text: 'boom' }] });
    expect(client.sent).toHaveLength(1);
    expect(h.errors.map((e) => e.message)).toEqual(['hostile getter']);
    h.errors.length = 0;
    expect(h.span('tools/call ls').attributes['error.type']).toBe('tool_error');
  });
});

describe('alm.mcpServer', () => {
  let h: Harness;
  beforeEach(() => (h = createHarness({ alm: { policy: { deniedTools: ['rm'] } } })));
  afterEach(() => h.close());

  it('refuses what is not a 1.x server', () => {
    for (const bad of [null, {}, { server: {} }, { _requestHandlers: {} }]) {
      expect(() => h.alm.mcpServer(bad as object)).toThrow(/alm.mcpServer: expected an MCP McpServer or Server/);
    }
  });

  it('wraps handlers set before and after; a denial is a result; hostile _meta runs under no caller', async () => {
    const s = serverLike();
    h.alm.mcpServer(s.server);
    s.protocol.setRequestHandler('tools/call', s.callHandler);
    const handle = s.handlers.get('tools/call')!;
    expect(await handle(request('rm'), { requestId: 9 })).toEqual({
      content: [{ type: 'text', text: expect.stringMatching(/Tool 'rm' denied/) }],
      isError: true,
    });
    expect(s.ran).toEqual([]);
    for (const meta of [{ traceparent: 'garbage', baggage: 7 }, 'not an object', null]) {
      await handle(request('ls', meta), { requestId: 9 });
    }
    expect(s.ran).toEqual(['ls', 'ls', 'ls']);
    await handle(request(undefined), {}); // no name: the SDK's own handler answers
    expect(s.ran).toHaveLength(4);
    const spans = h.spans().filter((span) => span.name === 'tools/call ls');
    expect(spans.map((span) => span.kind)).toEqual([SpanKind.SERVER, SpanKind.SERVER, SpanKind.SERVER]);
    const events = await h.flushEvents();
    expect(events.filter((e) => e.event_type === 'tool.request').map((e) => e.run_id)).toEqual([
      null,
      null,
      null,
      null,
    ]);
    // Wrapping twice wraps once.
    h.alm.mcpServer(s.server);
    expect(s.handlers.get('tools/call')).toBe(handle);
  });

  it('still refuses when alm is disabled', async () => {
    const off = new ALM({ agentId: 'off', enabled: false, policy: { deniedTools: ['rm'] } });
    const s = serverLike();
    s.protocol.setRequestHandler('tools/call', s.callHandler);
    off.mcpServer(s.server);
    const result = await s.handlers.get('tools/call')!(request('rm'), {});
    expect(result).toEqual(expect.objectContaining({ isError: true }));
    expect(s.ran).toEqual([]);
    await off.shutdown();
  });
});
