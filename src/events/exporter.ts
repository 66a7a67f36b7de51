/**
 * ALMEventExporter: the ALM event stream from any OTel span pipeline. It translates finished
 * alm-otel spans (and other instrumentations' tool spans, in every convention policy/conventions.ts
 * knows) with the same translation
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
import * as sc from '../semconv';
import { toolCallIdOf, toolConvention, toolNameOf } from '../policy/conventions';
import { keyFilter, type KeyFilter } from './capture';
import { recordFromSpan } from './record';

const ExporterConfigSchema = z.pick(ALMConfigSchema, {
  agentId: true,
  env: true,
  agentVersion: true,
  policyVersion: true,
  events: true,
  onError: true,
  redactKeys: true,
});

/** Options for `new ALMEventExporter(...)`: the event envelope, the sink, and onError. */
export type ALMEventExporterOptions = Omit<z.input<typeof ExporterConfigSchema>, 'agentId'> & { agentId?: string };

const SUCCESS = 0;
const FAILED = 1;
/** Calls remembered to report each once (by call id), across export batches. */
const MAX_REMEMBERED_CALLS = 10_000;
/** Most enclosing spans looked through for a span of the same call. */
const MAX_ANCESTORS = 8;

type Attrs = ReadableSpan['attributes'];

function hrMs(t: readonly [number, number]): number {
  return t[0] * 1e3 + t[1] / 1e6;
}

function parentSpanId(span: ReadableSpan): string | undefined {
  const s = span as { parentSpanContext?: { spanId?: string }; parentSpanId?: string };
  return s.parentSpanContext?.spanId ?? s.parentSpanId;
}

/** The tool name and call id of a tool span, if it is one. */
function toolIdentity(a: Attrs): { name: string | undefined; callId: string | undefined } | undefined {
  const c = toolConvention(a);
  return c === undefined ? undefined : { name: toolNameOf(c, a), callId: toolCallIdOf(c, a) };
}

export class ALMEventExporter implements SpanExporter {
  private readonly pipeline: EventPipeline;
  /** Tool calls already reported, by call id: when their span ran, in epoch ms. */
  private readonly reported = new Map<string, { start: number; end: number }>();
  private readonly sensitive: KeyFilter;
  /** alm.llm spans become llm.* events only with `events.llmEvents`, as in ALM's own stream. */
  private readonly llmEvents: boolean;

  constructor(options: ALMEventExporterOptions = {}) {
    const config = parseOrThrow(ExporterConfigSchema, withEnvironment(options));
    const report = createErrorReporter(config.onError);
    this.sensitive = keyFilter(config.redactKeys);
    this.llmEvents = config.events.llmEvents;
    this.pipeline = new EventPipeline(
      {
        agentId: config.agentId,
        env: config.env,
        agentVersion: config.agentVersion ?? null,
        policyVersion: config.policyVersion ?? null,
      },
      createSink(config.events, report, config.agentId),
      config.events,
      report,
    );
  }

  export(spans: ReadableSpan[], resultCallback: (result: { code: 0 | 1; error?: Error }) => void): void {
    try {
      const byId = new Map<string, ReadableSpan>();
      for (const span of spans) byId.set(span.spanContext().spanId, span);
      for (const span of spans) {
        if (this.sameCallReported(span, byId)) continue;
        const record = recordFromSpan(span, this.sensitive);
        if (record === undefined || (record.kind === 'llm' && !this.llmEvents)) continue;
        this.pipeline.enqueue(record, Phase.Both);
      }
      resultCallback({ code: SUCCESS });
    } catch (error) {
      resultCallback({ code: FAILED, error: error instanceof Error ? error : new Error(String(error)) });
    }
  }

  /**
   * One tool call, one set of events, even when several spans show it: a framework's tool span around
   * the alm tool that ran it (`alm.tool.wrapped`), a nested span of the same call (`alm.tool.nested`, or
   * a same-named tool span around it in the same batch), or a span whose call id was reported for a
   * span that overlaps it in time.
   */
  private sameCallReported(span: ReadableSpan, byId: Map<string, ReadableSpan>): boolean {
    const a = span.attributes;
    const tool = toolIdentity(a);
    if (tool === undefined) return false;
    if (a[sc.ATTR_ALM_TOOL_WRAPPED] === true || a[sc.ATTR_ALM_TOOL_NESTED] === true) return true;
    if (tool.callId !== undefined) {
      // Spans of one call overlap in time (nested, or two integrations side by side, even in two
      // traces); a call id seen again later is a new call (some providers number calls per step).
      const start = hrMs(span.startTime);
      const end = hrMs(span.endTime);
      const seen = this.reported.get(tool.callId);
      if (seen !== undefined && start < seen.end && seen.start < end) return true;
      this.reported.delete(tool.callId);
      this.reported.set(tool.callId, { start, end });
      if (this.reported.size > MAX_REMEMBERED_CALLS) this.reported.delete(this.reported.keys().next().value!);
      return false;
    }
    let parentId = parentSpanId(span);
    for (let depth = 0; parentId !== undefined && depth < MAX_ANCESTORS; depth++) {
      const parent = byId.get(parentId);
      if (parent === undefined) return false;
      const outer = toolIdentity(parent.attributes);
      if (outer !== undefined && outer.name === tool.name) return true;
      parentId = parentSpanId(parent);
    }
    return false;
  }

  forceFlush(): Promise<void> {
    return this.pipeline.flush();
  }

  shutdown(): Promise<void> {
    return this.pipeline.shutdown();
  }
}
