/** redactKeys and capture: { inputs, outputs }, per instance and per tool, in events and spans alike. */
import { SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { ALM, ALMConfigError, ALMEventExporter, type ALMEvent } from '../../src';
import { createTestALM, type TestALM } from '../../src/testing';

let alm: TestALM;
afterEach(() => alm?.shutdown());

const INPUTS = '[withheld: capture.inputs is off]';
const OUTPUTS = '[withheld: capture.outputs is off]';

function spanContent(name: string): { args: unknown; result: unknown } {
  const a = alm.span(name).attributes;
  const parse = (v: unknown) => (v === undefined ? undefined : JSON.parse(String(v)));
  return { args: parse(a['gen_ai.tool.call.arguments']), result: parse(a['gen_ai.tool.call.result']) };
}

describe('redactKeys', () => {
  it('adds names (matched like the reference list) and RegExps, everywhere content is captured', async () => {
    alm = createTestALM({ redactKeys: ['ssn', /^id$/i], captureToolContent: true });
    const lookup = alm.tool('lookup', (query: Record<string, unknown>) => ({
      ...query,
      nested: { SSN_last4: '1234' },
    }));
    const fail = alm.tool('fail', () => {
      throw { id: 7, reason: 'no' }; // a thrown plain object becomes the message, redacted too
    });
    alm.run(() => {
      lookup({ ssn: '123-45-6789', id: 'a1', userId: 'u1', password: 'p', name: 'Ada' });
      expect(() => fail()).toThrow();
      alm.handoff({ toAgentId: 'b', context: { customer: { ID: 9, ssn: 'x' } } });
    });
    const request = (await alm.eventsOfType('tool.request'))[0]!;
    const expected = {
      ssn: '***REDACTED***',
      id: '***REDACTED***',
      userId: 'u1',
      password: '***REDACTED***',
      name: 'Ada',
    };
    expect(request.metadata.args).toEqual({ inputs: expected });
    const [response, failed] = await alm.eventsOfType('tool.response');
    expect(response!.metadata.result).toEqual({ ...expected, nested: { SSN_last4: '***REDACTED***' } });
    expect(failed!.metadata.error!.message).toBe('{"id":"***REDACTED***","reason":"no"}');
    expect((await alm.eventsOfType('handoff'))[0]!.metadata.context).toEqual({
      customer: { ID: '***REDACTED***', ssn: '***REDACTED***' },
    });
    // Spans carry the same redacted content.
    expect(spanContent('execute_tool lookup')).toEqual({
      args: expected,
      result: { ...expected, nested: { SSN_last4: '***REDACTED***' } },
    });
    expect(alm.span('handoff b').attributes['alm.handoff.context']).toBe(
      '{"customer":{"ID":"***REDACTED***","ssn":"***REDACTED***"}}',
    );
  });

  it('leaves the reference list alone without redactKeys; a global RegExp keeps no state between keys', async () => {
    alm = createTestALM({ redactKeys: [/^a/g] });
    alm.run(() => alm.tool('t', (o: object) => o)({ a1: 1, a2: 2, a3: 3, ssn: 's' }));
    expect((await alm.eventsOfType('tool.request'))[0]!.metadata.args).toEqual({
      inputs: { a1: '***REDACTED***', a2: '***REDACTED***', a3: '***REDACTED***', ssn: 's' },
    });
  });

  it("applies to other instrumentations' tool spans, through the processor and ALMEventExporter", async () => {
    alm = createTestALM({ redactKeys: ['ssn'] });
    const attributes = {
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'ai_sdk_tool',
      'gen_ai.tool.call.arguments': '{"ssn":"1","q":"x"}',
    };
    alm.run(() => alm.tracer.startSpan('execute_tool ai_sdk_tool', { attributes }).end());
    expect((await alm.eventsOfType('tool.request'))[0]!.metadata.args).toEqual({
      inputs: { ssn: '***REDACTED***', q: 'x' },
    });

    const received: ALMEvent[] = [];
    const exporter = new ALMEventExporter({
      agentId: 'a',
      redactKeys: ['ssn'],
      events: { sink: (batch) => void received.push(...batch), flushOnExit: false },
    });
    const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    provider.getTracer('t').startSpan('execute_tool ai_sdk_tool', { attributes }).end();
    await exporter.forceFlush();
    await provider.shutdown();
    expect(received.find((e) => e.event_type === 'tool.request')!.metadata).toMatchObject({
      args: { inputs: { ssn: '***REDACTED***', q: 'x' } },
    });
  });
});

describe('capture', () => {
  it('off for the instance: the three events stay, content replaced by a marker, on spans too', async () => {
    alm = createTestALM({ capture: { inputs: false, outputs: false }, captureToolContent: true });
    const secret = alm.tool('secret', (text: string) => text.toUpperCase());
    const fails = alm.tool('fails', () => {
      throw new Error('still reported');
    });
    alm.run(() => {
      expect(secret('hello')).toBe('HELLO');
      expect(() => fails()).toThrow('still reported');
    });
    const events = await alm.events();
    const ofSecret = events.filter((e) => 'tool_name' in e.metadata && e.metadata.tool_name === 'secret');
    expect(ofSecret.map((e) => e.event_type)).toEqual(['tool.request', 'policy.decision', 'tool.response']);
    expect(ofSecret[0]!.metadata).toMatchObject({ args: { args: [INPUTS] } });
    expect(ofSecret[2]!.metadata).toMatchObject({ status: 'success', result: OUTPUTS });
    expect(JSON.stringify(events)).not.toContain('hello');
    expect(JSON.stringify(events)).not.toContain('HELLO');
    expect(spanContent('execute_tool secret')).toEqual({ args: INPUTS, result: OUTPUTS });
    // Errors are diagnostics, not content: still reported.
    const failed = (await alm.eventsOfType('tool.response')).find((e) => e.metadata.tool_name === 'fails')!;
    expect(failed.metadata.error).toMatchObject({ type: 'Error', message: 'still reported' });
  });

  it('per tool, overriding the instance either way', async () => {
    alm = createTestALM({ capture: { inputs: false } });
    const open = alm.tool('open', (q: string) => `r:${q}`, { capture: { inputs: true } });
    const closed = alm.tool('closed', (q: string) => `r:${q}`, { capture: { outputs: false } });
    class Agent {
      @alm.toolMethod('method', { capture: { inputs: true, outputs: false } })
      method(q: string): string {
        return `m:${q}`;
      }
    }
    alm.run(() => [open('a'), closed('b'), new Agent().method('c')]);
    const requests = await alm.eventsOfType('tool.request');
    const responses = await alm.eventsOfType('tool.response');
    expect(requests.map((e) => e.metadata.args)).toEqual([{ args: ['a'] }, { args: [INPUTS] }, { args: ['c'] }]);
    expect(responses.map((e) => e.metadata.result)).toEqual(['r:a', OUTPUTS, OUTPUTS]);
    // Spans keep content off unless captureToolContent, as before.
    expect(spanContent('execute_tool open')).toEqual({ args: undefined, result: undefined });
  });
});

describe('bad options name the field', () => {
  it('in the configuration', () => {
    expect(() => new ALM({ agentId: 'a', redactKeys: ['ok', 3 as never, ''] })).toThrow(
      /redactKeys\[1\]: each entry must be a non-empty key name or a RegExp\n.*redactKeys\[2\]/,
    );
    expect(() => new ALM({ agentId: 'a', redactKeys: 'ssn' as never })).toThrow(
      'redactKeys: must be a list of key names or RegExps',
    );
    expect(() => new ALM({ agentId: 'a', capture: { input: false } as never })).toThrow(
      "capture.input: unknown option (did you mean 'inputs'?)",
    );
    expect(() => new ALM({ agentId: 'a', capture: { outputs: 'no' as never } })).toThrow(ALMConfigError);
  });

  it('in alm.tool and alm.toolMethod', () => {
    alm = createTestALM();
    const fn = () => 1;
    expect(() => alm.tool('t', fn, { captur: {} } as never)).toThrow(
      "alm.tool('t'): options.captur is not an option (capture, retry and timeoutMs are)",
    );
    expect(() => alm.tool('t', fn, { capture: { inputs: 'no' } } as never)).toThrow(
      "alm.tool('t'): options.capture.inputs must be true or false",
    );
    expect(() => alm.tool('t', fn, { capture: { input: true } } as never)).toThrow(
      "alm.tool('t'): options.capture.input is not an option (inputs and outputs are)",
    );
    expect(() => alm.toolMethod('m', { capture: null } as never)).toThrow(
      "alm.tool('m'): options.capture must be an object",
    );
  });
});
