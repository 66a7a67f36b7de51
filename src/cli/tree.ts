/**
 * Runs rebuilt from ALM events, and drawn as trees. Events carry no parent ids, so nesting comes from
 * the order of the stream (alm-otel emits events in the order operations start and end): a task or
 * tool call belongs to the most recently started task of its run that is still open. With concurrent
 * tasks in one run that is a best guess; runs themselves are always told apart by `run_id`.
 */
import type { ALMEvent } from '../events/schema';
import { styler, type Style } from './common';

type EventOf<T extends ALMEvent['event_type']> = Extract<ALMEvent, { event_type: T }>;

export interface ToolNode {
  readonly kind: 'tool';
  toolCallId: string;
  attempt: number;
  request?: EventOf<'tool.request'>;
  decision?: EventOf<'policy.decision'>;
  response?: EventOf<'tool.response'>;
}

export interface TaskNode {
  readonly kind: 'task';
  taskId: string;
  start?: EventOf<'task.start'>;
  end?: EventOf<'task.end'>;
  children: Node[];
}

export interface HandoffNode {
  readonly kind: 'handoff';
  event: EventOf<'handoff'>;
}

export type Node = ToolNode | TaskNode | HandoffNode;

export interface RunNode {
  /** null: events outside any run. */
  runId: string | null;
  /** The first event seen for the run: its envelope (agent, env, versions, trace). */
  first: ALMEvent;
  start?: EventOf<'run.start'>;
  end?: EventOf<'run.end'>;
  children: Node[];
  /** Tasks started and not yet ended, in start order. */
  open: TaskNode[];
  tasks: Map<string, TaskNode>;
  tools: Map<string, ToolNode>;
}

/** Builds runs from events in stream order. `add` returns the run when that event ended it. */
export class RunForest {
  readonly runs = new Map<string | null, RunNode>();

  add(event: ALMEvent): RunNode | undefined {
    const run = this.runFor(event);
    switch (event.event_type) {
      case 'run.start':
        run.start = event;
        return undefined;
      case 'run.end':
        run.end = event;
        return run;
      case 'task.start': {
        const task = this.task(run, event.metadata.task_id);
        task.start = event;
        run.open.push(task);
        return undefined;
      }
      case 'task.end': {
        const task = this.task(run, event.metadata.task_id);
        task.end = event;
        run.open = run.open.filter((t) => t !== task);
        return undefined;
      }
      case 'tool.request':
        this.tool(run, event.metadata.tool_call_id, event.metadata.attempt).request = event;
        return undefined;
      case 'policy.decision':
        this.tool(run, event.metadata.tool_call_id, event.metadata.attempt).decision = event;
        return undefined;
      case 'tool.response':
        this.tool(run, event.metadata.tool_call_id, event.metadata.attempt).response = event;
        return undefined;
      case 'handoff':
        this.place(run, { kind: 'handoff', event });
        return undefined;
    }
  }

  /** Forget a run (tail draws a run once, when it ends). */
  delete(run: RunNode): void {
    this.runs.delete(run.runId);
  }

  private runFor(event: ALMEvent): RunNode {
    let run = this.runs.get(event.run_id);
    if (run === undefined) {
      run = { runId: event.run_id, first: event, children: [], open: [], tasks: new Map(), tools: new Map() };
      this.runs.set(event.run_id, run);
    }
    return run;
  }

  private place(run: RunNode, node: Node): void {
    (run.open.at(-1)?.children ?? run.children).push(node);
  }

  private task(run: RunNode, taskId: string): TaskNode {
    let task = run.tasks.get(taskId);
    if (task === undefined) {
      task = { kind: 'task', taskId, children: [] };
      run.tasks.set(taskId, task);
      this.place(run, task);
    }
    return task;
  }

  private tool(run: RunNode, toolCallId: string, attempt: number): ToolNode {
    const key = `${toolCallId}#${attempt}`;
    let tool = run.tools.get(key);
    if (tool === undefined) {
      tool = { kind: 'tool', toolCallId, attempt };
      run.tools.set(key, tool);
      this.place(run, tool);
    }
    return tool;
  }
}

/**
 * The event without what a drawing never shows (tool arguments and results, handoff context), so a
 * run held until its run.end costs memory by its calls, not by their content. Mutates and returns it.
 */
export function forDrawing(event: ALMEvent): ALMEvent {
  const metadata = event.metadata as Record<string, unknown>;
  if (event.event_type === 'tool.request') metadata.args = { args: [] };
  else if (event.event_type === 'tool.response') delete metadata.result;
  else if (event.event_type === 'handoff') delete metadata.context;
  return event;
}

export interface DrawOptions {
  style: Style;
  /** Base URL of a Jaeger UI, to print a link to the run's trace. */
  jaegerUrl?: string;
  /** Show tool call ids and task ids. */
  ids?: boolean;
}

export function formatMs(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (Number.isInteger(ms)) return `${ms} ms`;
  if (ms >= 1) return `${ms.toFixed(1)} ms`;
  return `${Number(ms.toFixed(3))} ms`;
}

function elapsed(from: ALMEvent | undefined, to: ALMEvent | undefined): number | undefined {
  if (from === undefined || to === undefined) return undefined;
  const ms = Date.parse(to.timestamp) - Date.parse(from.timestamp);
  return Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}

function quote(text: string): string {
  return JSON.stringify(text);
}

function toolLine(node: ToolNode, o: DrawOptions): string {
  const s = o.style;
  const name =
    node.request?.metadata.tool_name ?? node.decision?.metadata.tool_name ?? node.response?.metadata.tool_name;
  const parts: string[] = [];
  const response = node.response?.metadata;
  const decision = node.decision?.metadata;
  if (response === undefined) {
    parts.push(s('yellow', '…') + ' ' + s('bold', name ?? '?'), s('yellow', 'no response yet'));
    if (decision?.decision === 'deny') parts.push(s('magenta', `deny: ${decision.reason}`));
  } else if (response.status === 'success') {
    parts.push(s('green', '✓') + ' ' + s('bold', response.tool_name), s('dim', formatMs(response.total_latency_ms)));
  } else if (response.status === 'denied') {
    parts.push(
      s('magenta', '⊘') + ' ' + s('bold', response.tool_name),
      s(['magenta', 'bold'], 'DENIED'),
      s('magenta', decision?.reason ?? response.error?.message ?? ''),
    );
  } else {
    const error = response.error;
    parts.push(
      s('red', '✗') + ' ' + s('bold', response.tool_name),
      s(['red', 'bold'], 'ERROR'),
      s('red', error === undefined ? '' : `${error.type}: ${error.message}`),
    );
    if (error?.retryable) parts.push(s('dim', '(retryable)'));
    parts.push(s('dim', formatMs(response.total_latency_ms)));
  }
  if (decision?.decision === 'deny' && response !== undefined && response.status !== 'denied') {
    parts.push(s('magenta', `(policy violation, not blocked: ${decision.reason})`));
  }
  if (node.attempt > 1) parts.push(s('dim', `attempt ${node.attempt}`));
  if (o.ids) parts.push(s('dim', node.toolCallId));
  return parts.filter((p) => p !== '').join('  ');
}

function taskLine(node: TaskNode, o: DrawOptions): string {
  const s = o.style;
  const meta = node.start?.metadata;
  let label = 'task';
  if (meta?.task_type) label += ` ${meta.task_type}`;
  const parts = [s('bold', label)];
  if (meta?.description) parts[0] += `: ${meta.description}`;
  const end = node.end?.metadata;
  if (end === undefined) parts.push(s('yellow', 'still running'));
  else if (end.success) parts.push(s('green', '✓'));
  else parts.push(s('red', `✗ failed${end.error ? `: ${end.error.type}: ${end.error.message}` : ''}`));
  const ms = elapsed(node.start, node.end);
  if (ms !== undefined) parts.push(s('dim', formatMs(ms)));
  if (o.ids) parts.push(s('dim', node.taskId));
  return parts.join('  ');
}

function handoffLine(node: HandoffNode, o: DrawOptions): string {
  const m = node.event.metadata;
  const s = o.style;
  return [s('cyan', `→ handoff to ${m.to_agent_id}`), m.reason ? m.reason : ''].filter((p) => p !== '').join('  ');
}

/** Depth first, with a stack of its own: tasks nested thousands deep draw without exhausting the call stack. */
function drawChildren(children: Node[], o: DrawOptions, out: string[]): void {
  const stack: { nodes: Node[]; i: number; prefix: string }[] = [{ nodes: children, i: 0, prefix: '' }];
  while (stack.length > 0) {
    const top = stack.at(-1)!;
    if (top.i === top.nodes.length) {
      stack.pop();
      continue;
    }
    const child = top.nodes[top.i++]!;
    const last = top.i === top.nodes.length;
    const line =
      child.kind === 'tool' ? toolLine(child, o) : child.kind === 'task' ? taskLine(child, o) : handoffLine(child, o);
    out.push(o.style('dim', top.prefix + (last ? '└─ ' : '├─ ')) + line);
    if (child.kind === 'task' && child.children.length > 0) {
      stack.push({ nodes: child.children, i: 0, prefix: top.prefix + (last ? '   ' : '│  ') });
    }
  }
}

/** `budget exceeded: tokens 1200/1000`, `budget exceeded: cost, no price for model 'x'`, … and the calls that ran past it. */
export function budgetLine(passed: NonNullable<EventOf<'run.end'>['metadata']['summary']['budget_exceeded']>): string {
  const what = { tool_calls: 'tool calls', llm_calls: 'model calls', tokens: 'tokens', cost: 'cost' }[passed.budget];
  const usd = (n: number) => `$${Number(n.toPrecision(6))}`;
  const figures =
    passed.model !== undefined
      ? `, no price for model '${passed.model}'`
      : passed.budget === 'cost'
        ? ` ${usd(passed.spent)}/${usd(passed.limit)}`
        : ` ${passed.spent}/${passed.limit}`;
  const flagged = passed.flagged_llm_calls;
  const ran = flagged > 0 ? ` (${flagged} model call${flagged === 1 ? '' : 's'} ran past it, flagged)` : '';
  return `budget exceeded: ${what}${figures}${ran}`;
}

/** The lines that draw one run. */
export function drawRun(run: RunNode, o: DrawOptions): string[] {
  const s = o.style;
  const out: string[] = [];
  const env = run.first;
  if (run.runId === null) {
    out.push(s('bold', 'outside any run') + s('dim', `  ${env.agent_id} (${env.env})`));
  } else {
    const agent = env.agent_version ? `${env.agent_id}@${env.agent_version}` : env.agent_id;
    const head = [s('bold', `run ${run.runId}`), `${agent} (${env.env})`];
    if (run.start?.metadata.purpose) head.push(quote(run.start.metadata.purpose));
    const end = run.end?.metadata;
    if (end === undefined) head.push(s('yellow', 'still running (no run.end yet)'));
    else if (end.success) head.push(s('green', '✓ success'));
    else head.push(s(['red', 'bold'], `✗ failed${end.error ? `: ${end.error.type}: ${end.error.message}` : ''}`));
    if (end !== undefined) head.push(s('dim', formatMs(end.summary.latencies.total_run_ms)));
    if (end?.summary.budget_exceeded !== undefined) head.push(s(['magenta', 'bold'], 'over budget'));
    out.push(head.join('  '));
  }
  const traceId = run.start?.trace_id ?? run.end?.trace_id ?? env.trace_id;
  if (run.runId !== null) {
    const link = traceId && o.jaegerUrl ? `  ${o.jaegerUrl.replace(/\/+$/, '')}/trace/${traceId}` : '';
    out.push(
      s('dim', '│ ') +
        (traceId ? `trace_id ${s('cyan', traceId)}${s('dim', link)}` : s('dim', 'trace_id none (no tracer provider)')),
    );
  }
  drawChildren(run.children, o, out);
  const summary = run.end?.metadata.summary;
  if (summary !== undefined) {
    const t = summary.tool_calls;
    const l = summary.latencies;
    const counts = [
      `${t.total} tool call${t.total === 1 ? '' : 's'} (${t.allowed} allowed, `,
      t.denied > 0 ? s('magenta', `${t.denied} denied`) : `${t.denied} denied`,
      ', ',
      t.error > 0 ? s('red', `${t.error} error`) : `${t.error} error`,
      `, ${t.retried} retried)`,
    ].join('');
    const tasks = `tasks ${summary.tasks.completed} completed, ${summary.tasks.failed} failed`;
    const handoffs = `${summary.handoffs} handoff${summary.handoffs === 1 ? '' : 's'}`;
    const latencies = `avg tool ${formatMs(l.avg_tool_ms)}, avg policy ${formatMs(l.avg_policy_ms)}`;
    const parts = [counts, tasks, handoffs, latencies];
    if (summary.llm_calls !== undefined) {
      const tokens = summary.tokens ?? { input: 0, output: 0 };
      const cost = summary.cost_usd === undefined ? '' : `, $${summary.cost_usd}`;
      parts.push(
        `${summary.llm_calls} model call${summary.llm_calls === 1 ? '' : 's'} (${tokens.input} input, ${tokens.output} output tokens${cost})`,
      );
    }
    const passed = summary.budget_exceeded;
    if (passed !== undefined) parts.push(s(['magenta', 'bold'], budgetLine(passed)));
    out.push(`${s('bold', 'summary')}  ${parts.join(s('dim', ' · '))}`);
  }
  return out;
}

/** Options of {@link drawRunTree}. */
export interface RunTreeOptions {
  /** ANSI colour (default false). */
  color?: boolean;
  /** Base URL of a Jaeger UI, to print a link to each run's trace. */
  jaegerUrl?: string;
  /** Show task ids and tool call ids. */
  ids?: boolean;
}

/**
 * ALM events drawn as `alm-otel tree` draws them: each run (tasks, tool calls with ✓ / ⊘ DENIED /
 * ✗ ERROR, handoffs, the summary, the trace_id), in stream order, separated by blank lines.
 */
export function drawRunTree(events: Iterable<ALMEvent>, options: RunTreeOptions = {}): string {
  const forest = new RunForest();
  for (const event of events) forest.add(event);
  const style = styler({ stdout: {}, env: {} } as never, { color: options.color === true, 'no-color': !options.color });
  const draw: DrawOptions = { style, jaegerUrl: options.jaegerUrl, ids: options.ids };
  return [...forest.runs.values()].map((run) => drawRun(run, draw).join('\n')).join('\n\n');
}
