/**
 * How each runtime cell registers its provider, after `new ALM()`: `load` imports an SDK package in
 * the app's own module format (`require` in app.cjs, `import()` in the .mjs apps), and `api` is the
 * app's own copy of @opentelemetry/api, through which the provider is registered.
 */
'use strict';

const { check } = require('./scenario.cjs');

async function makeSetup(kind, load, api) {
  const sdk = await load('@opentelemetry/sdk-trace');
  const exporter = new sdk.InMemorySpanExporter();
  const simple = new sdk.SimpleSpanProcessor({ exporter });
  const processors = (alm) => [...alm.spanProcessors, simple];
  // SimpleSpanProcessor may hold an export until the resource's attributes settle (NodeSDK detects them).
  const spans = async () => {
    await simple.forceFlush();
    return exporter.getFinishedSpans();
  };
  const tracer = () => api.trace.getTracer('consumer-app');
  switch (kind) {
    case 'TracerProvider': {
      const { AsyncLocalStorageContextManager } = await load('@opentelemetry/context-async-hooks');
      return async (alm) => {
        const provider = new sdk.TracerProvider({ spanProcessors: processors(alm) });
        api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
        check(api.trace.setGlobalTracerProvider(provider), 'setGlobalTracerProvider refused the provider');
        return { tracer: tracer(), spans, shutdown: () => provider.shutdown() };
      };
    }
    case 'NodeTracerProvider': {
      const { NodeTracerProvider } = await load('@opentelemetry/sdk-trace-node');
      return async (alm) => {
        const provider = new NodeTracerProvider({ spanProcessors: processors(alm) });
        provider.register();
        return { tracer: tracer(), spans, shutdown: () => provider.shutdown() };
      };
    }
    case 'NodeSDK': {
      const { NodeSDK } = await load('@opentelemetry/sdk-node');
      return async (alm) => {
        const node = new NodeSDK({ serviceName: 'consumer-app', spanProcessors: processors(alm) });
        node.start();
        return { tracer: tracer(), spans, shutdown: () => node.shutdown() };
      };
    }
    default:
      throw new Error(`unknown provider kind ${kind}`);
  }
}

module.exports = { makeSetup };
