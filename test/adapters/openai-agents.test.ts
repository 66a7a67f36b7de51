/**
 * alm.openaiAgentsTool(s) and alm.openaiAgentsModel against objects shaped as @openai/agents 0.20 makes
 * them (a FunctionTool's `invoke(runContext, input, details)`, a Model's `getResponse` /
 * `getStreamedResponse`): stand-ins, since the root project does not install the SDK. The real package
 * runs in frameworks-test/openai-agents.test.mjs.
 */
import { ALM, BudgetExceededError, type LlmOptions } from '../../src';
import { wrapOpenaiAgentsModel, type StartModelCall } from '../../src/adapters/openai-agents';
import { createHarness, ofType, type Harness } from '../helpers/harness';

const SDK_ERROR = 'An error occurred while running the tool. Please try again.';
const VALIDATOR = Symbol('openai.agents.functionToolOutputValidator');

/** A function tool as the SDK's `tool()` builds it: `invoke` parses the JSON input and turns errors into output. */
function functionTool(name: string, execute: (input: { path: string }) => unknown) {
  const ran: unknown[] = [];
  const tool = {
    type: 'function' as const,
    name,
    description: `${name} a file`,
    parameters: { type: 'object' },
    strict: true,
    [VALIDATOR]: 'kept',
    async invoke(_runContext: unknown, input: string, _details?: unknown): Promise<unknown> {
      try {
        const parsed = JSON.parse(input) as { path: string };
        ran.push(parsed);
        return await execute(parsed);
      } catch {
        return SDK_ERROR;
      }
    },
  };
  return { tool, ran };
}

const runContext = { context: { secret: 'user state' }, usage: { requests: 3 } };
const details = (callId: string) => ({ toolCall: { type: 'function_call', callId, name: 'x', arguments: '' } });

describe('alm.openaiAgentsTool', () => {
  let h: Harness;
  afterEach(() => h.close());

  it('records the parsed input under the SDK callId, not the RunContext, and returns what invoke returned', async () => {
    h = createHarness();
    const { tool } = functionTool('read_file', ({ path }) => `contents of ${path}`);
    const [wrapped] = h.alm.openaiAgentsTools([tool]);
    const output = await h.alm.run(() => wrapped!.invoke(runContext, '{"path":"/a"}', details('call_1')));
    expect(output).toBe('contents of /a');
    const events = await h.flushEvents();
    const request = ofType(events, 'tool.request')[0]!;
    expect(request.metadata).toMatchObject({ tool_call_id: 'call_1', tool_name: 'read_file' });
    expect(request.metadata.args).toEqual({ inputs: { path: '/a' } });
    expect(JSON.stringify(events)).not.toContain('user state');
    expect(ofType(events, 'tool.response')[0]!.metadata).toMatchObject({ status: 'success', result: 'contents of /a' });
  });

  it('a denied call does not run: its output is the denial with the policy reason, for the model', async () => {
    h = createHarness({ alm: { policy: { deniedTools: ['delete_file'] } } });
    const { tool, ran } = functionTool('delete_file', () => 'deleted');
    const wrapped = h.alm.openaiAgentsTool(tool);
    const output = await h.alm.run(() => wrapped.invoke(runContext, '{"path":"/etc"}', details('call_9')));
    expect(output).toBe("Tool 'delete_file' denied: Tool 'delete_file' is in denied_tools list");
    expect(ran).toEqual([]);
    const events = await h.flushEvents();
    expect(ofType(events, 'tool.response')[0]!.metadata).toMatchObject({ tool_call_id: 'call_9', status: 'denied' });
  });

  it('with enabled: false, a denied call still does not run and the model still reads why', async () => {
    h = createHarness();
    const alm = new ALM({ agentId: 'off', enabled: false, policy: { maxToolCallsPerRun: 1 } });
    const { tool, ran } = functionTool('read_file', () => 'ok');
    const wrapped = alm.openaiAgentsTool(tool);
    const outputs = await alm.run(async () => [
      await wrapped.invoke(runContext, '{"path":"/a"}', details('c1')),
      await wrapped.invoke(runContext, '{"path":"/b"}', details('c2')),
    ]);
    expect(outputs[0]).toBe('ok');
    expect(outputs[1]).toMatch(/^Tool 'read_file' denied: Budget exceeded/);
    expect(ran).toEqual([{ path: '/a' }]);
    await alm.shutdown();
  });

  it('keeps the tool otherwise as it is (symbol-keyed properties, prototype); other tools and repeated wraps pass', async () => {
    h = createHarness();
    class HostedTool {
      readonly type = 'hosted_tool';
      readonly name = 'web_search';
    }
    const hosted = new HostedTool();
    const { tool } = functionTool('read_file', () => 'ok');
    const [wrappedHosted, wrapped] = h.alm.openaiAgentsTools([hosted, tool] as const);
    expect(wrappedHosted).toBe(hosted);
    expect(wrapped).not.toBe(tool);
    expect(wrapped[VALIDATOR]).toBe('kept');
    expect(wrapped.parameters).toBe(tool.parameters);
    expect(tool.invoke).not.toBe(wrapped.invoke); // the original is left alone
    expect(() => h.alm.openaiAgentsTool(null as never)).toThrow(
      'alm.openaiAgentsTool: expected a tool object, got null',
    );
    expect(() => h.alm.openaiAgentsTools({} as never)).toThrow('alm.openaiAgentsTools: expected an array of tools');
  });

  it('hostile details and input: no call id (alm makes one), text that is not JSON recorded as sent', async () => {
    h = createHarness();
    const { tool } = functionTool('read_file', () => 'ok');
    const wrapped = h.alm.openaiAgentsTool(tool);
    const hostile = {
      get toolCall(): unknown {
        throw new Error('boom');
      },
    };
    const output = await h.alm.run(() => wrapped.invoke(runContext, 'not json', hostile));
    expect(output).toBe(SDK_ERROR); // the SDK's own handling of bad input, unchanged
    const request = ofType(await h.flushEvents(), 'tool.request')[0]!;
    expect(request.metadata.tool_call_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(request.metadata.args).toEqual({ args: ['not json'] });
    expect(h.errors).toEqual([]);
  });

  it("an error thrown out of invoke (a tool built with errorFunction: null) is the SDK's to handle", async () => {
    h = createHarness();
    const tool = {
      type: 'function',
      name: 'strict_tool',
      invoke: async (): Promise<never> => {
        throw new RangeError('bad');
      },
    };
    const wrapped = h.alm.openaiAgentsTool(tool);
    await expect(h.alm.run(() => wrapped.invoke())).rejects.toThrow(RangeError);
    const response = ofType(await h.flushEvents(), 'tool.response')[0]!;
    expect(response.metadata.status).toBe('error');
  });
});

/** A Model as the SDK's interface has it, answering with fixed usage, counting what reached it. */
function scriptedModel(usage = { inputTokens: 10, outputTokens: 5 }) {
  const calls = { response: 0, stream: 0, streamClosed: 0 };
  const model = {
    _model: 'gpt-test',
    calls,
    getRetryAdvice(this: { _model: string }) {
      return { reason: this._model };
    },
    async getResponse(_request: unknown) {
      calls.response++;
      return { usage: { requests: 1, ...usage, totalTokens: 15 }, output: [], responseId: `resp_${calls.response}` };
    },
    getStreamedResponse(_request: unknown): AsyncIterable<unknown> {
      calls.stream++;
      return (async function* () {
        try {
          yield { type: 'response_started' };
          yield { type: 'output_text_delta', delta: 'hi' };
          yield { type: 'response_done', response: { id: `stream_${calls.stream}`, usage, output: [] } };
        } finally {
          calls.streamClosed++;
        }
      })();
    },
  };
  return model;
}

async function drain(stream: AsyncIterable<unknown>): Promise<unknown[]> {
  const seen: unknown[] = [];
  for await (const event of stream) seen.push(event);
  return seen;
}

const request = { input: 'hi', modelSettings: {}, tools: [], handoffs: [], outputType: 'text', tracing: false };

describe('alm.openaiAgentsModel', () => {
  let h: Harness;
  afterEach(() => h.close());

  it('getResponse: a model call with its usage and response id; refused before the provider once the budget is reached', async () => {
    h = createHarness({ alm: { policy: { maxTokensPerRun: 20 } } });
    const inner = scriptedModel();
    const model = h.alm.openaiAgentsModel(inner);
    let refused: unknown;
    await h.alm.run(async () => {
      await model.getResponse(request);
      await model.getResponse(request);
      refused = await model.getResponse(request).catch((error: unknown) => error);
    });
    expect(refused).toBeInstanceOf(BudgetExceededError);
    expect(inner.calls.response).toBe(2);
    const spans = h.spans().filter((s) => s.name === 'chat gpt-test');
    expect(spans.map((s) => s.attributes['gen_ai.response.id'])).toEqual(['resp_1', 'resp_2', undefined]);
    expect(spans[0]!.attributes).toMatchObject({ 'gen_ai.provider.name': 'openai', 'gen_ai.usage.input_tokens': 10 });
    const summary = ofType(await h.flushEvents(), 'run.end')[0]!.metadata.summary;
    expect(summary).toMatchObject({ llm_calls: 2, tokens: { input: 20, output: 10 } });
  });

  it('streamed: usage from response_done, counted once; refused at the first read, before the provider is asked', async () => {
    h = createHarness({ alm: { policy: { maxLlmCallsPerRun: 1 } } });
    const inner = scriptedModel();
    const model = h.alm.openaiAgentsModel(inner, { model: 'priced-name', provider: 'azure.ai.openai' });
    let refused: unknown;
    await h.alm.run(async () => {
      expect(await drain(model.getStreamedResponse(request))).toHaveLength(3);
      refused = await drain(model.getStreamedResponse(request)).catch((error: unknown) => error);
    });
    expect(refused).toBeInstanceOf(BudgetExceededError);
    expect(inner.calls.stream).toBe(1);
    const span = h.spans().find((s) => s.name === 'chat priced-name' && s.attributes['alm.llm.status'] === 'success')!;
    expect(span.attributes).toMatchObject({
      'gen_ai.provider.name': 'azure.ai.openai',
      'gen_ai.response.id': 'stream_1',
      'gen_ai.usage.input_tokens': 10,
      'gen_ai.usage.output_tokens': 5,
    });
    const summary = ofType(await h.flushEvents(), 'run.end')[0]!.metadata.summary;
    expect(summary).toMatchObject({ llm_calls: 1, tokens: { input: 10, output: 5 } });
  });

  it('streamed: a reader that stops early closes the provider stream and ends the call; a stream error ends it failed', async () => {
    h = createHarness();
    const inner = scriptedModel();
    const model = h.alm.openaiAgentsModel(inner);
    const failing = h.alm.openaiAgentsModel({
      getResponse: async () => ({}),
      getStreamedResponse: async function* (_request: unknown) {
        yield { type: 'response_started' };
        throw new Error('connection reset');
      },
    });
    await h.alm.run(async () => {
      for await (const event of model.getStreamedResponse(request)) {
        expect(event).toEqual({ type: 'response_started' });
        break;
      }
      await expect(drain(failing.getStreamedResponse(request))).rejects.toThrow('connection reset');
    });
    expect(inner.calls.streamClosed).toBe(1);
    const statuses = h
      .spans()
      .filter((s) => s.name.startsWith('chat '))
      .map((s) => s.attributes['alm.llm.status']);
    expect(statuses).toEqual(['success', 'error']);
  });

  it("keeps the model's other members (bound to it) and checks its arguments", () => {
    h = createHarness();
    const inner = scriptedModel();
    const model = h.alm.openaiAgentsModel(inner);
    expect(model.getRetryAdvice()).toEqual({ reason: 'gpt-test' });
    expect(model._model).toBe('gpt-test');
    expect(() => h.alm.openaiAgentsModel({} as never)).toThrow(
      'alm.openaiAgentsModel: expected a Model with getResponse, got object',
    );
    expect(() => h.alm.openaiAgentsModel(inner, { model: '' })).toThrow(
      'alm.openaiAgentsModel: options.model must be a non-empty string',
    );
    expect(() => h.alm.openaiAgentsModel(inner, null as never)).toThrow(
      'alm.openaiAgentsModel: options must be an object',
    );
  });
});

describe('wrapOpenaiAgentsModel', () => {
  it("passes the request's modelSettings.maxTokens to admission as the declared maximum output", async () => {
    const seen: LlmOptions[] = [];
    const start: StartModelCall = (options, fn) => {
      seen.push(options);
      return fn({ llmCallId: 'id', setUsage() {}, setResponse() {} });
    };
    const model = wrapOpenaiAgentsModel(start, scriptedModel(), { model: 'm' });
    await model.getResponse({ ...request, modelSettings: { maxTokens: 256 } });
    await drain(model.getStreamedResponse({ ...request, modelSettings: { maxTokens: 64 } }));
    await model.getResponse({ ...request, modelSettings: { maxTokens: Number.NaN } });
    expect(seen).toEqual([
      { provider: 'openai', model: 'm', maxOutputTokens: 256 },
      { provider: 'openai', model: 'm', maxOutputTokens: 64 },
      { provider: 'openai', model: 'm' },
    ]);
  });
});
