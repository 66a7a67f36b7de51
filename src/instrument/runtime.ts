/** What every instrumented operation shares within one ALM instance. */
import { AsyncLocalStorage } from 'node:async_hooks';
import { context, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { isSensitiveKey, type KeyFilter } from '../events/capture';
import type { EventPipeline } from '../events/pipeline';
import type { Envelope } from '../events/translate';
import { LateToolSpans, type AlmToolCall, type ForeignSpan, type ModelCallOwner } from '../policy/foreign';
import type { ModelPolicy } from '../policy/models';
import type { ScopedBudgets } from '../policy/scoped';
import type { ToolPolicy } from '../policy/rules';
import type { ErrorReporter } from '../report';
import { GenAiMetrics } from './metrics';
import { RemoteRuns } from './remote-run';
import type { RunState } from './run-state';

/** The innermost run and the OTel context of the innermost alm span (run or task). */
export interface Scope {
  readonly run: RunState | undefined;
  readonly otelContext: Context;
  /** Inside a tool with `timeoutMs`: the current attempt's signal (`alm.signal()`). */
  readonly signal?: AbortSignal;
}

/** What alm-otel captures of content: which keys it redacts, and whether tool inputs / outputs are kept. */
export interface ContentOptions {
  readonly sensitive: KeyFilter;
  readonly inputs: boolean;
  readonly outputs: boolean;
}

const DEFAULT_CONTENT: ContentOptions = Object.freeze({ sensitive: isSensitiveKey, inputs: true, outputs: true });

export class Runtime {
  /**
   * alm-otel keeps its own async scope instead of relying on the global OTel context manager, so runs,
   * budgets and nesting hold even when no provider or context manager is registered at all.
   */
  readonly storage = new AsyncLocalStorage<Scope>();
  readonly enforcing: boolean;
  /** Other instrumentations' open spans, by span: any may be, or become, a tool span (policy/foreign.ts). */
  readonly foreignCalls = new WeakMap<object, ForeignSpan>();
  /** alm tool calls made while an unnamed foreign tool span is open, to pair them once it is named. */
  readonly lateToolSpans = new LateToolSpans();
  readonly metrics = new GenAiMetrics();
  /** alm.llm() calls by their open span: model spans of other instrumentations inside them are the same call. */
  readonly llmSpans = new WeakMap<object, ModelCallOwner>();
  /**
   * alm tool calls sent over a protocol (alm.mcpClient), by their open span: another instrumentation's
   * tool span started inside one, for the same tool, is the same request (whatever parent it declares).
   */
  readonly protocolCalls = new WeakMap<object, AlmToolCall>();
  /** Runs of other processes that calls here were made in (instrument/remote-run.ts). */
  readonly remoteRuns: RemoteRuns;
  /** Budgets by scope and window (`policy.budgets`), when any are configured. */
  scoped: ScopedBudgets | undefined = undefined;
  /** Runs and tasks whose function has not settled yet. */
  private openScopes = 0;
  private stopped = false;
  /**
   * Set when a call was made in a run that had already ended (a background loop, a timed-out tool's
   * body): such work holds its run's budget only through this storage, so it is never disabled then.
   */
  detached = false;

  constructor(
    readonly envelope: Envelope,
    readonly tracer: Tracer,
    readonly policy: ToolPolicy,
    readonly events: EventPipeline,
    readonly report: ErrorReporter,
    /** Tool arguments and results on spans too (they are always in the events). */
    readonly captureToolContent: boolean,
    readonly models: ModelPolicy,
    /** Emit llm.request / llm.response events (not in the reference schema). */
    readonly llmEvents: boolean,
    /** redactKeys and the instance's `capture` switches (tools may override the switches). */
    readonly content: ContentOptions = DEFAULT_CONTENT,
  ) {
    this.enforcing = policy.mode === 'enforce';
    this.remoteRuns = new RemoteRuns(models.priced);
  }

  /** A run or task starts (its scope is entered through `storage.run`, which re-enables a stopped storage). */
  enterScope(): void {
    this.openScopes++;
  }

  exitScope(): void {
    if (--this.openScopes === 0 && this.stopped && !this.detached) this.storage.disable();
  }

  /**
   * After shutdown: an enabled AsyncLocalStorage taxes every promise the process creates (on Node's
   * async_hooks-based implementation), so it is disabled once no run or task is open. A run started
   * later enables it again for its own duration, so its budget still holds. Unless work of an ended
   * run was seen (`detached`): disabling would let it escape its run's budget.
   */
  stop(): void {
    this.stopped = true;
    if (this.openScopes === 0 && !this.detached) this.storage.disable();
  }

  /**
   * Parent for a new span: the active OTel context when it holds a span (so user spans in between
   * nest correctly), else the innermost alm span (when no context manager propagates the active one).
   */
  parentContext(
    scope: Scope | undefined,
    active: Context = context.active(),
    activeSpan: Span | undefined = trace.getSpan(active),
  ): Context {
    return scope === undefined || activeSpan !== undefined ? active : scope.otelContext;
  }
}
