// alm.mcpClient / alm.mcpServer beside OpenInference's MCP instrumentation, which propagates context
// through `_meta` with the global propagator from its patched stdio transport: with NodeSDK's default
// W3C propagator registered, both write `_meta`, and the child server still runs in the run's trace
// and records under its run_id.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { propagation } from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { MCPInstrumentation } from '@arizeai/openinference-instrumentation-mcp';
import * as clientStdioModule from '@modelcontextprotocol/sdk/client/stdio.js';
import { setup } from './helpers.mjs';
import { checkOverStdio } from './mcp/stdio.mjs';

test('beside OpenInference MCP, with a global W3C propagator: one trace, the caller run_id', async () => {
  const instrumentation = new MCPInstrumentation();
  instrumentation.manuallyInstrument({ clientStdioModule });
  propagation.setGlobalPropagator(
    new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  );
  try {
    assert.ok(propagation.fields().includes('traceparent'));
    assert.ok(clientStdioModule.StdioClientTransport.prototype.send.__wrapped, 'OpenInference patched the transport');
    await checkOverStdio(setup());
  } finally {
    propagation.disable();
  }
});
