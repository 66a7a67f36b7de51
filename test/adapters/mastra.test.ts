/**
 * The Mastra adapter, structurally: a tool written out here in the shape `createTool()` returns (a class
 * instance whose `execute(inputData, context)` gets Mastra's context, with `agent.toolCallId` for an
 * agent's call). The real @mastra/core agents run in frameworks-test/mastra.test.mjs.
 */
import { ToolDeniedError } from '../../src';
import { createHarness, ofType, type Harness } from '../helpers/harness';

class FakeMastraTool {
  readonly description = 'reads a file';
  constructor(
    readonly id: string,
    readonly execute: ((input: { path: string }, context?: object) => Promise<string>) | undefined,
  ) {}
  describe(): string {
    return `${this.id}: ${this.description}`;
  }
}

/** Mastra's context as an agent passes it: large, and not the tool's arguments. */
const mastraContext = (toolCallId: string) => ({
  mastra: { secret: 'mastra internals' },
  requestContext: new Map([['user', 'secret plans']]),
  agent: { agentId: 'files', toolCallId, messages: [{ role: 'user', content: 'secret plans' }] },
});

describe('alm.mastraTool / alm.mastraTools', () => {
  let h: Harness;
  afterEach(() => h.close());

  it('decides before execute, records the input only, under Mastra’s toolCallId; the copy keeps the tool’s class', async () => {
    h = createHarness({ alm: { policy: { deniedTools: ['delete_file'] } } });
    const seen: unknown[] = [];
    const body = async (input: { path: string }, context?: object) => (seen.push([input, context]), 'ok');
    const original = {
      read_file: new FakeMastraTool('read_file', body),
      delete_file: new FakeMastraTool('delete_file', body),
    };
    const tools = h.alm.mastraTools(original);
    expect(tools.read_file).toBeInstanceOf(FakeMastraTool);
    expect(tools.read_file.describe()).toBe('read_file: reads a file');
    expect(original.read_file.execute).toBe(body); // the original is left alone
    await h.alm.run(async () => {
      await expect(tools.read_file.execute!({ path: '/a' }, mastraContext('call-1'))).resolves.toBe('ok');
      await expect(tools.delete_file.execute!({ path: '/etc' }, mastraContext('call-2'))).rejects.toBeInstanceOf(
        ToolDeniedError,
      );
    });
    expect(seen).toHaveLength(1);
    expect((seen[0] as [unknown, { agent: { toolCallId: string } }])[1].agent.toolCallId).toBe('call-1');
    const events = await h.flushEvents();
    expect(JSON.stringify(events)).not.toContain('secret plans');
    expect(ofType(events, 'tool.request').map((e) => [e.metadata.tool_call_id, e.metadata.args])).toEqual([
      ['call-1', { inputs: { path: '/a' } }],
      ['call-2', { inputs: { path: '/etc' } }],
    ]);
    expect(ofType(events, 'tool.response').map((e) => e.metadata.status)).toEqual(['success', 'denied']);
  });

  it('a call outside an agent (no toolCallId) gets an id of its own; a tool without execute is returned as is', async () => {
    h = createHarness();
    const tool = h.alm.mastraTool('read_file', new FakeMastraTool('read_file', async () => 'ok'));
    await h.alm.run(() => tool.execute!({ path: '/a' }, { workflow: { runId: 'w' } }));
    const events = await h.flushEvents();
    expect(ofType(events, 'tool.request')[0]!.metadata.tool_call_id).toMatch(/^[0-9a-f-]{36}$/);
    const bare = new FakeMastraTool('x', undefined);
    expect(h.alm.mastraTool('x', bare)).toBe(bare);
  });

  it('rejects what is not a tool', () => {
    h = createHarness();
    expect(() => h.alm.mastraTool('', {})).toThrow(TypeError);
    expect(() => h.alm.mastraTool('x', null as never)).toThrow('expected a Mastra tool object, got null');
    expect(() => h.alm.mastraTools(null as never)).toThrow(TypeError);
  });
});
