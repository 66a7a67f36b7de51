import { ALM, ALMConfigError, ALMEventExporter } from '../../src';

function configError(options: unknown): ALMConfigError {
  try {
    new ALM(options as never);
  } catch (error) {
    expect(error).toBeInstanceOf(ALMConfigError);
    return error as ALMConfigError;
  }
  throw new Error('expected ALMConfigError');
}

describe('configuration', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it('names a missing agentId and how to provide it', () => {
    delete process.env.ALM_AGENT_ID;
    const error = configError({ events: { sink: 'none' } });
    expect(error.issues).toEqual(['agentId: required: pass agentId or set ALM_AGENT_ID']);
    expect(error.message).toBe(
      'Invalid alm-otel configuration:\n  - agentId: required: pass agentId or set ALM_AGENT_ID',
    );
  });

  it('names events.endpoint when it is not a URL at all', () => {
    for (const endpoint of ['not a url', '', 'http//missing-colon', 'ftp://x']) {
      const error = configError({ agentId: 'a', events: { sink: 'http', endpoint, apiKey: 'k' } });
      expect(error.issues).toEqual(['events.endpoint: must be an http:// or https:// URL']);
    }
  });

  it('lists every bad field in one readable line each, without a stack trace in the message', () => {
    const error = configError({
      agentId: 'a',
      polcy: {},
      policy: { maxToolCallsPerRun: -1, allowedTools: 'search' },
      events: { sink: 'http', endpoint: 'not a url', batchSize: 2.5 },
    });
    expect(error.issues).toEqual(
      expect.arrayContaining([
        "polcy: unknown option (did you mean 'policy'?)",
        'policy.allowedTools: must be a list of tool names or * globs',
        'policy.maxToolCallsPerRun: must be 0 or more',
        'events.endpoint: must be an http:// or https:// URL',
        expect.stringMatching(/^events\.batchSize: /),
      ]),
    );
    expect(error.issues).toHaveLength(5);
    for (const line of error.message.split('\n')) expect(line).not.toMatch(/^\s+at /);
  });

  it('rejects a fractional budget and an unknown nested key', () => {
    const error = configError({ agentId: 'a', policy: { maxToolCallsPerRun: 1.5, defaultalow: false } });
    expect([...error.issues].sort()).toEqual([
      "policy.defaultalow: unknown option (did you mean 'defaultAllow'?)",
      'policy.maxToolCallsPerRun: must be a whole number of tool calls',
    ]);
  });

  it('requires an endpoint for the http sink, from options or ALM_ENDPOINT', () => {
    delete process.env.ALM_ENDPOINT;
    expect(configError({ agentId: 'a', events: { sink: 'http' } }).issues).toEqual([
      "events.endpoint: required when sink is 'http': pass events.endpoint or set ALM_ENDPOINT",
    ]);
    process.env.ALM_ENDPOINT = 'http://127.0.0.1:9';
    expect(() => new ALM({ agentId: 'a', events: { sink: 'http' } })).not.toThrow();
  });

  it('rejects a sink that is neither a known name nor a function', () => {
    expect(configError({ agentId: 'a', events: { sink: 'kafka' } }).issues).toEqual([
      "events.sink: must be 'stdout', 'http', 'file', 'otlp', 'none' or a function",
    ]);
  });

  it('takes agentId and env from ALM_AGENT_ID and ALM_ENV, options winning', () => {
    process.env.ALM_AGENT_ID = 'from-env';
    process.env.ALM_ENV = 'staging';
    const fromEnv = new ALM({ events: { sink: 'none' } });
    expect([fromEnv.agentId, fromEnv.env]).toEqual(['from-env', 'staging']);
    const explicit = new ALM({ agentId: 'explicit', env: 'production', events: { sink: 'none' } });
    expect([explicit.agentId, explicit.env]).toEqual(['explicit', 'production']);
  });

  it("defaults env to 'development'", () => {
    delete process.env.ALM_ENV;
    expect(new ALM({ agentId: 'a', events: { sink: 'none' } }).env).toBe('development');
  });

  it('validates ALMEventExporter options the same way', () => {
    expect(() => new ALMEventExporter({ agentId: '', events: { sink: 'none' } } as never)).toThrow(
      'agentId: must not be empty',
    );
  });

  it('rejects options that are not an object', () => {
    expect(configError('agent').issues).toEqual([expect.stringMatching(/^\(options\): /)]);
  });
});
