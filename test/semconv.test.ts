import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as sc from '../src/semconv';
import { SDK_VERSION } from '../src/version';

// The incubating entry is a package export subpath, which this project's CommonJS resolution types cannot see.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const incubating = require('@opentelemetry/semantic-conventions/incubating') as Record<string, unknown>;

describe('semantic conventions', () => {
  it('copies the GenAI keys exactly as the incubating package defines them', () => {
    const copied = Object.entries(sc).filter(([name]) => /^(ATTR_GEN_AI_|GEN_AI_)/.test(name));
    expect(copied.length).toBeGreaterThanOrEqual(11);
    for (const [name, value] of copied) {
      if (name === 'GEN_AI_TOOL_TYPE_VALUE_FUNCTION') continue; // the package defines no constant for this value
      expect([name, incubating[name]]).toEqual([name, value]);
    }
  });

  it('names the GenAI metrics as the incubating package does, where it defines them', () => {
    const names = Object.entries(sc).filter(([name]) => name.startsWith('METRIC_GEN_AI_'));
    expect(names.length).toBe(4);
    for (const [name, value] of names) {
      // gen_ai.execute_tool.duration and gen_ai.invoke_agent.duration are newer than the npm package (see otel-js notes).
      if (incubating[name] !== undefined) expect([name, incubating[name]]).toEqual([name, value]);
      else expect(value).toMatch(/^gen_ai\.(execute_tool|invoke_agent)\.duration$/);
    }
  });

  it('keeps every ALM key under alm.*', () => {
    for (const [name, value] of Object.entries(sc)) {
      if (name.startsWith('ATTR_ALM_')) expect(value).toMatch(/^alm\.[a-z_.]+$/);
    }
  });
});

describe('version', () => {
  it('reports the package version as sdk_version', () => {
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
    expect(SDK_VERSION).toBe(pkg.version);
  });
});
