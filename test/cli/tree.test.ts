/** drawRunTree: the CLI's tree renderer as a public function, on the events of a real ALM. */
import { ALM, drawRunTree, type ALMEvent } from '../../src';

async function events(): Promise<ALMEvent[]> {
  const captured: ALMEvent[] = [];
  const alm = new ALM({
    agentId: 'tree-agent',
    policy: { deniedTools: ['delete_*'] },
    events: { sink: (batch) => void captured.push(...batch), flushOnExit: false },
  });
  const search = alm.tool('search', (query: string) => `results for ${query}`);
  const remove = alm.tool('delete_file', (path: string) => path);
  await alm.run({ purpose: 'draw me' }, () => {
    search('otel');
    try {
      remove('/etc');
    } catch {
      // denied
    }
  });
  await alm.run(() => search('again'));
  await alm.shutdown();
  return captured;
}

describe('drawRunTree', () => {
  it('draws each run as alm-otel tree does, without colour by default', async () => {
    const text = drawRunTree(await events());
    const runs = text.split('\n\n');
    expect(runs).toHaveLength(2);
    expect(runs[0]).toMatch(/^run [0-9a-f-]{36} {2}tree-agent \(development\) {2}"draw me" {2}✓ success/);
    expect(runs[0]).toContain('│ trace_id none (no tracer provider)');
    expect(runs[0]).toMatch(/├─ ✓ search {2}[\d.]+ ms/);
    expect(runs[0]).toContain("└─ ⊘ delete_file  DENIED  Tool 'delete_file' is in denied_tools list");
    expect(runs[0]).toContain('summary  2 tool calls (1 allowed, 1 denied, 0 error, 0 retried)');
    expect(text).not.toContain('\x1b[');
  });

  it('colours when asked, and links each trace to a Jaeger UI', async () => {
    const all = await events();
    const traced = all.map((e) => ({ ...e, trace_id: '4bf92f3577b34da6a3ce929d0e0e4736' }));
    expect(drawRunTree(all, { color: true })).toContain('\x1b[');
    expect(drawRunTree(traced, { jaegerUrl: 'http://jaeger:16686/' })).toContain(
      'trace_id 4bf92f3577b34da6a3ce929d0e0e4736  http://jaeger:16686/trace/4bf92f3577b34da6a3ce929d0e0e4736',
    );
  });

  it('draws nothing for no events', () => {
    expect(drawRunTree([])).toBe('');
  });
});
