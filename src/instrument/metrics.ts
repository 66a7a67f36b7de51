/**
 * GenAI metrics through `@opentelemetry/api`: token usage and operation duration of model calls, tool
 * and agent durations, and alm's own policy and budget counters. The meter is resolved from the global
 * registry when a measurement is taken, not at construction, so a MeterProvider registered later (from
 * any copy of the API) is picked up; while none is registered, a measurement costs one lookup.
 */
import {
  metrics,
  ValueType,
  type Attributes,
  type Counter,
  type Histogram,
  type MeterProvider,
} from '@opentelemetry/api';
import * as sc from '../semconv';
import { SDK_VERSION } from '../version';
import { API_GLOBALS } from './tracer';

// The GenAI conventions' advisory bucket boundaries.
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
const DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];

interface Instruments {
  tokenUsage: Histogram;
  operationDuration: Histogram;
  toolDuration: Histogram;
  agentDuration: Histogram;
  policyDecisions: Counter;
  budgetExceeded: Counter;
}

function isNoop(provider: MeterProvider): boolean {
  // The API's fallback when nothing is registered; each copy of the API has its own instance of it.
  return provider.constructor?.name === 'NoopMeterProvider';
}

function createInstruments(provider: MeterProvider): Instruments {
  const meter = provider.getMeter('alm-otel', SDK_VERSION);
  const seconds = (name: string, description: string) =>
    meter.createHistogram(name, { unit: 's', description, advice: { explicitBucketBoundaries: DURATION_BUCKETS } });
  return {
    tokenUsage: meter.createHistogram(sc.METRIC_GEN_AI_CLIENT_TOKEN_USAGE, {
      unit: '{token}',
      description: 'Number of input and output tokens used.',
      valueType: ValueType.INT,
      advice: { explicitBucketBoundaries: TOKEN_BUCKETS },
    }),
    operationDuration: seconds(sc.METRIC_GEN_AI_CLIENT_OPERATION_DURATION, 'GenAI operation duration.'),
    toolDuration: seconds(sc.METRIC_GEN_AI_EXECUTE_TOOL_DURATION, 'Duration of tool executions.'),
    agentDuration: seconds(sc.METRIC_GEN_AI_INVOKE_AGENT_DURATION, 'Duration of agent invocations.'),
    policyDecisions: meter.createCounter(sc.METRIC_ALM_POLICY_DECISIONS, {
      unit: '{decision}',
      description: 'Tool policy decisions, by decision.',
      valueType: ValueType.INT,
    }),
    budgetExceeded: meter.createCounter(sc.METRIC_ALM_BUDGET_EXCEEDED, {
      unit: '{call}',
      description: 'Calls refused because a run budget was reached, by budget.',
      valueType: ValueType.INT,
    }),
  };
}

export class GenAiMetrics {
  private provider: MeterProvider | undefined;
  private instruments: Instruments | undefined;
  /** The registry's entry when it was last read: while it stays the same, so do the instruments. */
  private seen: unknown = null;

  /** The instruments of the MeterProvider registered now, or undefined while none is. */
  private current(): Instruments | undefined {
    const registered = (globalThis as Record<symbol, { metrics?: unknown } | undefined>)[API_GLOBALS]?.metrics;
    if (registered === this.seen) return this.instruments;
    this.seen = registered;
    const provider = metrics.getMeterProvider();
    if (provider !== this.provider) {
      this.provider = provider;
      this.instruments = isNoop(provider) ? undefined : createInstruments(provider);
    }
    return this.instruments;
  }

  modelCall(attributes: Attributes, seconds: number, errorType: string | undefined): void {
    const m = this.current();
    if (m === undefined) return;
    m.operationDuration.record(
      seconds,
      errorType === undefined ? attributes : { ...attributes, [sc.ATTR_ERROR_TYPE]: errorType },
    );
  }

  tokens(attributes: Attributes, inputTokens: number, outputTokens: number): void {
    const m = this.current();
    if (m === undefined) return;
    m.tokenUsage.record(inputTokens, { ...attributes, [sc.ATTR_GEN_AI_TOKEN_TYPE]: 'input' });
    m.tokenUsage.record(outputTokens, { ...attributes, [sc.ATTR_GEN_AI_TOKEN_TYPE]: 'output' });
  }

  toolCall(
    toolName: string,
    decision: 'allow' | 'deny',
    seconds: number | undefined,
    errorType: string | undefined,
  ): void {
    const m = this.current();
    if (m === undefined) return;
    m.policyDecisions.add(1, { [sc.ATTR_ALM_POLICY_DECISION]: decision, [sc.ATTR_GEN_AI_TOOL_NAME]: toolName });
    if (seconds === undefined) return; // denied: the tool never ran
    const attributes: Attributes = {
      [sc.ATTR_GEN_AI_OPERATION_NAME]: sc.GEN_AI_OPERATION_NAME_VALUE_EXECUTE_TOOL,
      [sc.ATTR_GEN_AI_TOOL_NAME]: toolName,
    };
    if (errorType !== undefined) attributes[sc.ATTR_ERROR_TYPE] = errorType;
    m.toolDuration.record(seconds, attributes);
  }

  agentRun(agentName: string, seconds: number, errorType: string | undefined): void {
    const m = this.current();
    if (m === undefined) return;
    const attributes: Attributes = {
      [sc.ATTR_GEN_AI_OPERATION_NAME]: sc.GEN_AI_OPERATION_NAME_VALUE_INVOKE_AGENT,
      [sc.ATTR_GEN_AI_AGENT_NAME]: agentName,
    };
    if (errorType !== undefined) attributes[sc.ATTR_ERROR_TYPE] = errorType;
    m.agentDuration.record(seconds, attributes);
  }

  budgetExceeded(budget: string): void {
    this.current()?.budgetExceeded.add(1, { [sc.ATTR_ALM_BUDGET]: budget });
  }
}
