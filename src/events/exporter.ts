/**
 * ALMEventExporter: the ALM event stream from any OTel span pipeline. It translates finished
 * alm-otel spans (and other instrumentations' execute_tool spans) with the same translation
 * `ALM` uses, and delivers through the same sinks. Being an exporter, it only sees spans that
 * were sampled and have ended; `ALM` itself emits every event, sampled or not, as it happens.
 */
import type { ReadableSpan, SpanExporter } from '../otel-types';
import * as z from 'zod/mini';
import { ALMConfigSchema } from '../config/schema';
import { parseOrThrow, withEnvironment } from '../config/load';
import { createErrorReporter } from '../report';
import { createSink } from '../sinks';
import { EventPipeline, Phase } from './pipeline';
import { recordFromSpan } from './record';

const ExporterConfigSchema = z.pick(ALMConfigSchema, {
  agentId: true,
  env: true,
  agentVersion: true,
  policyVersion: true,
  events: true,
  onError: true,
});

/** Options for `new ALMEventExporter(...)`: the event envelope, the sink, and onError. */
export type ALMEventExporterOptions = Omit<z.input<typeof ExporterConfigSchema>, 'agentId'> & { agentId?: string };

const SUCCESS = 0;
const FAILED = 1;

export class ALMEventExporter implements SpanExporter {
  private readonly pipeline: EventPipeline;

  constructor(options: ALMEventExporterOptions = {}) {
    const config = parseOrThrow(ExporterConfigSchema, withEnvironment(options));
    const report = createErrorReporter(config.onError);
    this.pipeline = new EventPipeline(
      {
        agentId: config.agentId,
        env: config.env,
        agentVersion: config.agentVersion ?? null,
        policyVersion: config.policyVersion ?? null,
      },
      createSink(config.events, report),
      config.events,
      report,
    );
  }

  export(spans: ReadableSpan[], resultCallback: (result: { code: 0 | 1; error?: Error }) => void): void {
    try {
      for (const span of spans) {
        const record = recordFromSpan(span);
        if (record !== undefined) this.pipeline.enqueue(record, Phase.Both);
      }
      resultCallback({ code: SUCCESS });
    } catch (error) {
      resultCallback({ code: FAILED, error: error instanceof Error ? error : new Error(String(error)) });
    }
  }

  forceFlush(): Promise<void> {
    return this.pipeline.flush();
  }

  shutdown(): Promise<void> {
    return this.pipeline.shutdown();
  }
}
