/** `@alm.toolMethod(...)`: TypeScript 5 standard decorators make methods tools, as alm.tool does. */
import { ToolDeniedError } from '../../src';
import { createTestALM, type TestALM } from '../../src/testing';

let alm: TestALM;
afterEach(() => alm.shutdown());

describe('@alm.toolMethod', () => {
  it('wraps methods like alm.tool: policy, spans, events, `this`, sync and async', async () => {
    alm = createTestALM({ policy: { deniedTools: ['delete'] } });
    let deleted = false;

    class ResearchAgent {
      constructor(private readonly prefix: string) {}

      @alm.toolMethod('search')
      async search(query: string): Promise<string> {
        return `${this.prefix}: ${query}`;
      }

      @alm.toolMethod()
      lookup({ id }: { id: number }): number {
        return id * 2;
      }

      @alm.toolMethod('delete')
      remove(): void {
        deleted = true;
      }

      @alm.toolMethod('static_tool')
      static version(): string {
        return '1';
      }
    }

    const agent = new ResearchAgent('found');
    const result = await alm.run(async () => {
      const found = await agent.search('otel');
      const doubled = agent.lookup({ id: 21 }); // a sync method stays sync
      expect(() => agent.remove()).toThrow(ToolDeniedError);
      return `${found} ${doubled} ${ResearchAgent.version()}`;
    });
    expect(result).toBe('found: otel 42 1');
    expect(deleted).toBe(false);
    expect(ResearchAgent.prototype.search.name).toBe('search');

    const responses = await alm.eventsOfType('tool.response');
    expect(responses.map((e) => [e.metadata.tool_name, e.metadata.status])).toEqual([
      ['search', 'success'],
      ['lookup', 'success'],
      ['delete', 'denied'],
      ['static_tool', 'success'],
    ]);
    const requests = await alm.eventsOfType('tool.request');
    expect(requests.map((e) => e.metadata.args)).toEqual([
      { args: ['otel'] },
      { inputs: { id: 21 } },
      { inputs: {} },
      { inputs: {} },
    ]);
    expect(alm.spanTreeText()).toBe(
      [
        'invoke_agent test-agent  ✓',
        '  execute_tool search  ✓',
        '  execute_tool lookup  ✓',
        '  execute_tool delete  ⊘ DENIED',
        '  execute_tool static_tool  ✓',
      ].join('\n'),
    );
  });

  it('refuses a bad name and anything but a method', () => {
    alm = createTestALM();
    expect(() => alm.toolMethod('')).toThrow('alm.toolMethod: name must be a non-empty string');
    expect(() => {
      class Agent {
        // @ts-expect-error: a field is not a method (TypeScript refuses it too)
        @alm.toolMethod('x') field = 1;
      }
      return Agent;
    }).toThrow('alm.toolMethod: decorates methods only, not a field');
    const decorator = alm.toolMethod('x');
    const field = { kind: 'field', name: 'f' } as unknown as ClassMethodDecoratorContext;
    expect(() => decorator(() => 1, field)).toThrow('alm.toolMethod: decorates methods only, not a field');
    // Legacy (experimentalDecorators) calls pass (target, key, descriptor).
    const legacy = decorator as unknown as (target: object, key: string, descriptor: PropertyDescriptor) => unknown;
    expect(() => legacy({}, 'm', { value: () => 1 })).toThrow('needs TypeScript 5 standard decorators');
  });
});
