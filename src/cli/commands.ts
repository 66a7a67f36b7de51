/** The commands of `alm-otel`: tree, validate, convert, tail, trace. Each returns its exit code. */
import { open, stat, watch, writeFile, type FileHandle } from 'node:fs/promises';
import {
  EXIT_INVALID,
  EXIT_OK,
  checkLine,
  DEFAULT_MAX_LINE_MB,
  errorCode,
  formatProblem,
  LineSplitter,
  maxLineBytes,
  parse,
  readInput,
  readLines,
  styler,
  UsageError,
  writeOut,
  type InputLine,
  type Io,
} from './common';
import { convertSpans, OtlpFormatError, parseOtlp } from './otlp';
import { DEFAULT_JAEGER_URL, fetchTrace, jaegerUrlArg, TraceFetchError, traceIdArg } from './trace';
import { drawRun, forDrawing, RunForest, type DrawOptions, type RunNode } from './tree';
import { eventsFromOtlpLogs, isOtlpLogs } from './otlp-logs';

export interface Command {
  summary: string;
  help: string;
  run(args: string[], io: Io): Promise<number>;
}

const DRAW_OPTIONS = {
  color: { type: 'boolean' },
  'no-color': { type: 'boolean' },
  'jaeger-url': { type: 'string', default: 'http://localhost:16686' },
  'no-link': { type: 'boolean' },
  ids: { type: 'boolean' },
} as const;

const DRAW_HELP = `  --jaeger-url <url>  Jaeger UI to link each run's trace to (default http://localhost:16686)
  --no-link           Print the trace_id without a link
  --ids               Also print task ids and tool call ids
  --color, --no-color Force colour on or off (default: on when stdout is a terminal and NO_COLOR is unset)`;

function drawOptions(io: Io, values: Record<string, string | boolean | undefined>): DrawOptions {
  return {
    style: styler(io, values),
    jaegerUrl: values['no-link'] ? undefined : (values['jaeger-url'] as string),
    ids: values.ids === true,
  };
}

function onlyFile(positionals: string[], command: string): string {
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0
        ? `${command}: missing the file to read (or - for stdin)`
        : `${command}: expected one file, got ${positionals.length}: ${positionals.join(' ')}`,
    );
  }
  return positionals[0]!;
}

function tooLongNotice(input: Extract<InputLine, { tooLong: number }>, maxBytes: number): string {
  const limit = Number((maxBytes / (1024 * 1024)).toFixed(3));
  const mb = (input.tooLong / (1024 * 1024)).toFixed(1);
  return `line ${input.line}: (line): longer than --max-line-mb ${limit} (${mb} MiB); skipped`;
}

const MAX_LINE_HELP = `  --max-line-mb <MiB> Skip (and report) a line longer than this (default ${DEFAULT_MAX_LINE_MB})`;

function write(stream: NodeJS.WritableStream, text: string): void {
  stream.write(text.endsWith('\n') || text === '' ? text : `${text}\n`);
}

export const tree: Command = {
  summary: 'draw each run in ALM events (JSON lines) as a tree',
  help: `Usage: alm-otel tree <events.jsonl | -> [options]

Draws every run in a file of ALM events (a stdout or file sink's JSON lines; - reads stdin): its tasks,
tool calls with their status (denied and failed calls marked), latencies, handoffs, the run summary,
and the trace_id to open in Jaeger. Lines that are not valid ALM events are reported on stderr with
their line number, and make the exit code 1.

  npx alm-otel tree alm-events.jsonl
  node my-agent.js | npx alm-otel tree -      (an agent with the stdout sink)
  npx alm-otel tree alm-events.jsonl --run 0d1c4b1e-8a6f-4e53-9d2b-2f1f6f3c9a10

The input is read as a stream: each run is drawn as soon as its run.end arrives, then forgotten.

Options:
  --run <run_id>      Draw this run only
${DRAW_HELP}
${MAX_LINE_HELP}
  -h, --help          Show this help`,
  async run(args, io) {
    const { values, positionals } = parse(args, {
      ...DRAW_OPTIONS,
      run: { type: 'string' },
      'max-line-mb': { type: 'string' },
    });
    if (values.help) return (write(io.stdout, this.help), EXIT_OK);
    const file = onlyFile(positionals, 'tree');
    const maxBytes = maxLineBytes(values['max-line-mb'], 'tree');
    const options = drawOptions(io, values);
    // Runs are drawn as soon as they end, and forgotten: memory holds the runs still open (and the
    // drawings of runs that ended before an earlier one did, to keep the order of first appearance).
    const forest = new RunForest();
    const order: { run: RunNode; drawn?: string }[] = [];
    const slots = new Map<RunNode, { run: RunNode; drawn?: string }>();
    let drawnRuns = 0;
    let invalid = 0;
    // The runs drawn since the last write, in one write (a chunk of input ends hundreds of runs).
    const flush = async () => {
      let n = 0;
      let out = '';
      while (n < order.length && order[n]!.drawn !== undefined) {
        out += (drawnRuns++ === 0 ? '' : '\n') + order[n]!.drawn! + '\n';
        n++;
      }
      if (n === 0) return;
      order.splice(0, n);
      await writeOut(io.stdout, out);
    };
    for await (const batch of readLines(io, file, maxBytes)) {
      for (const input of batch) {
        if (!('text' in input)) {
          invalid++;
          write(io.stderr, `alm-otel tree: ${tooLongNotice(input, maxBytes)}`);
          continue;
        }
        const result = checkLine(input.text, input.line);
        if (!('event' in result)) {
          invalid++;
          for (const p of result.problems) write(io.stderr, `alm-otel tree: ${formatProblem(p)}`);
          continue;
        }
        const event = forDrawing(result.event);
        if (values.run !== undefined && event.run_id !== values.run) continue;
        const known = forest.runs.get(event.run_id);
        const ended = forest.add(event);
        if (known === undefined) {
          const run = forest.runs.get(event.run_id)!;
          const slot = { run };
          order.push(slot);
          slots.set(run, slot);
        }
        if (ended !== undefined) {
          forest.delete(ended);
          slots.get(ended)!.drawn = drawRun(ended, options).join('\n');
          slots.delete(ended);
        }
      }
      await flush();
    }
    for (const slot of order) slot.drawn ??= drawRun(slot.run, options).join('\n');
    await flush();
    if (drawnRuns === 0 && values.run !== undefined) {
      write(io.stderr, `alm-otel tree: no run ${values.run} in ${file}`);
      return EXIT_INVALID;
    }
    if (drawnRuns === 0) {
      write(io.stderr, `alm-otel tree: no ALM events in ${file === '-' ? 'stdin' : file}`);
      return EXIT_INVALID;
    }
    return invalid === 0 ? EXIT_OK : EXIT_INVALID;
  },
};

export const validate: Command = {
  summary: 'check every line of an events file against the ALM event schema',
  help: `Usage: alm-otel validate <events.jsonl | -> [options]

Checks every line against ALMEventSchema (the reference schema 1.0 plus trace_id / span_id) and prints
each problem as "line N: field: what is wrong (event type)". Blank lines are skipped. Exit code 0 when
every line is a valid event, 1 when any is not (or there are none), 2 on a usage error.

  npx alm-otel validate alm-events.jsonl
  node my-agent.js | npx alm-otel validate -

The input is read as a stream, a line at a time: files of any size are fine.

Options:
  -q, --quiet         Print problems only, not the final count
${MAX_LINE_HELP}
  -h, --help          Show this help`,
  async run(args, io) {
    const { values, positionals } = parse(args, {
      quiet: { type: 'boolean', short: 'q' },
      'max-line-mb': { type: 'string' },
    });
    if (values.help) return (write(io.stdout, this.help), EXIT_OK);
    const file = onlyFile(positionals, 'validate');
    const maxBytes = maxLineBytes(values['max-line-mb'], 'validate');
    let valid = 0;
    let invalid = 0;
    for await (const batch of readLines(io, file, maxBytes)) {
      let out = '';
      for (const input of batch) {
        if (!('text' in input)) {
          invalid++;
          out += tooLongNotice(input, maxBytes) + '\n';
          continue;
        }
        const result = checkLine(input.text, input.line);
        if ('event' in result) {
          valid++;
          continue;
        }
        invalid++;
        for (const p of result.problems) out += formatProblem(p) + '\n';
      }
      if (out !== '') await writeOut(io.stdout, out);
    }
    if (valid + invalid === 0) {
      write(io.stderr, `alm-otel validate: no events in ${file === '-' ? 'stdin' : file}`);
      return EXIT_INVALID;
    }
    if (!values.quiet) {
      write(
        invalid === 0 ? io.stdout : io.stderr,
        invalid === 0
          ? `ok: ${valid} valid event${valid === 1 ? '' : 's'}`
          : `${invalid} invalid line${invalid === 1 ? '' : 's'}, ${valid} valid event${valid === 1 ? '' : 's'}`,
      );
    }
    return invalid === 0 ? EXIT_OK : EXIT_INVALID;
  },
};

export const convert: Command = {
  summary: 'turn OTLP/JSON traces or logs (a collector file exporter) into ALM events',
  help: `Usage: alm-otel convert <otlp.json | -> [options]

OTLP/JSON logs ({"resourceLogs": [...]} documents, as the otlp sink sends them through a collector)
give back the ALM events they carry, exactly, in time order; other log records are skipped and an
event delivered twice is kept once.

Reads OTLP/JSON traces: the OpenTelemetry Collector's file exporter output (one {"resourceSpans": [...]}
document per line), a single document, or Jaeger's answer to GET /api/v3/traces/<trace_id>. Translates alm-otel's spans (and other instrumentations'
execute_tool spans) into ALM events exactly as ALMEventExporter does, and writes them as JSON lines,
in time order. Other spans are skipped and counted on stderr. agent_id, env and the versions come from
each trace's invoke_agent span, else the options, else the resource (service.name,
deployment.environment.name). Exit code 1 when the input is not OTLP/JSON (the line and field are
named), holds no span to translate, or has spans that are each other's parents (a cycle: they are
named on stderr, and converted anyway).

  npx alm-otel convert traces.jsonl > alm-events.jsonl && npx alm-otel tree alm-events.jsonl

Options:
  --agent-id <id>     agent_id for traces without an alm-otel run span
  --env <name>        env for traces without an alm-otel run span
  --llm-events        Also turn alm.llm model-call spans into llm.request / llm.response events
  -o, --output <file> Write the events to a file instead of stdout
  -h, --help          Show this help`,
  async run(args, io) {
    const { values, positionals } = parse(args, {
      'agent-id': { type: 'string' },
      env: { type: 'string' },
      'llm-events': { type: 'boolean' },
      output: { type: 'string', short: 'o' },
    });
    if (values.help) return (write(io.stdout, this.help), EXIT_OK);
    for (const key of ['agent-id', 'env', 'output'] as const) {
      if (values[key] === '') throw new UsageError(`convert: --${key} must not be empty`);
    }
    const file = onlyFile(positionals, 'convert');
    const text = await readInput(io, file);
    if (isOtlpLogs(text)) return convertLogs(text, values.output, io);
    let converted;
    try {
      converted = convertSpans(parseOtlp(text), {
        agentId: values['agent-id'],
        env: values.env,
        llmEvents: values['llm-events'] === true,
      });
    } catch (error) {
      if (!(error instanceof OtlpFormatError)) throw error;
      write(io.stderr, `alm-otel convert: ${error.message}`);
      return EXIT_INVALID;
    }
    const { events, skipped, spans, cycles } = converted;
    if (cycles.length > 0) {
      const shown = cycles.slice(0, 10).join(', ') + (cycles.length > 10 ? `, and ${cycles.length - 10} more` : '');
      write(
        io.stderr,
        `alm-otel convert: ${cycles.length} span${cycles.length === 1 ? ' is' : 's are'} in (or under) a parent cycle, ` +
          `each other's ancestors (trace/span: ${shown}); converted from the earliest span of each loop`,
      );
    }
    if (events.length === 0) {
      write(io.stderr, `alm-otel convert: none of the ${spans} spans is an alm-otel or execute_tool span`);
      return EXIT_INVALID;
    }
    if (!(await writeEvents(io, values.output, events))) return EXIT_INVALID;
    write(
      io.stderr,
      `alm-otel convert: ${spans} spans, ${events.length} events` +
        (skipped > 0 ? ` (${skipped} spans skipped: not alm-otel or execute_tool spans)` : ''),
    );
    return cycles.length === 0 ? EXIT_OK : EXIT_INVALID;
  },
};

/** `convert` of OTLP/JSON logs: the ALM events the otlp sink sent, rebuilt exactly. */
/** `convert`'s output: JSON lines to `-o`'s file, else stdout; false (and a one-line error) when the file cannot be written. */
async function writeEvents(io: Io, output: string | undefined, events: readonly object[]): Promise<boolean> {
  const out = events.map((e) => JSON.stringify(e) + '\n').join('');
  if (output === undefined) {
    await writeOut(io.stdout, out);
    return true;
  }
  try {
    await writeFile(output, out);
    return true;
  } catch (error) {
    write(io.stderr, `alm-otel convert: cannot write ${output}: ${errorCode(error)}`);
    return false;
  }
}

async function convertLogs(text: string, output: string | undefined, io: Io): Promise<number> {
  let converted;
  try {
    converted = eventsFromOtlpLogs(text);
  } catch (error) {
    if (!(error instanceof OtlpFormatError)) throw error;
    write(io.stderr, `alm-otel convert: ${error.message}`);
    return EXIT_INVALID;
  }
  const { events, records, skipped, duplicates } = converted;
  if (events.length === 0) {
    write(io.stderr, `alm-otel convert: none of the ${records} log records is an ALM event (event name alm.*)`);
    return EXIT_INVALID;
  }
  if (!(await writeEvents(io, output, events))) return EXIT_INVALID;
  const notes = [
    skipped > 0 ? `${skipped} records skipped: not ALM events` : '',
    duplicates > 0 ? `${duplicates} redelivered records kept once` : '',
  ].filter(Boolean);
  write(
    io.stderr,
    `alm-otel convert: ${records} log records, ${events.length} events` +
      (notes.length ? ` (${notes.join('; ')})` : ''),
  );
  return EXIT_OK;
}

/** Most runs kept while waiting for their run.end; past it the oldest is forgotten. */
const MAX_OPEN_RUNS = 1000;

export const tail: Command = {
  summary: 'follow an events file as it grows, drawing each run when it ends',
  help: `Usage: alm-otel tail <events.jsonl> [options]

Follows a file sink's file (events.sink 'file') as it grows and draws each run as soon as its run.end
arrives. Runs already complete in the file are drawn first, unless --since-now. Waits for the file if
it does not exist yet. When the file is rotated (renamed away and created again), it reads the rest of
the old file, then the new one from its start; when it is truncated or rewritten (its first bytes
change), it starts over. Invalid lines are reported on stderr with their line number. Stops on Ctrl-C.

  npx alm-otel tail alm-events.jsonl

Options:
  --since-now         Skip what the file holds already
  --poll-ms <ms>      Also check the file this often, for file systems without change notification
                      (default 1000)
${DRAW_HELP}
${MAX_LINE_HELP}
  -h, --help          Show this help`,
  async run(args, io) {
    const { values, positionals } = parse(args, {
      ...DRAW_OPTIONS,
      'since-now': { type: 'boolean' },
      'poll-ms': { type: 'string', default: '1000' },
      'max-line-mb': { type: 'string' },
    });
    if (values.help) return (write(io.stdout, this.help), EXIT_OK);
    const file = onlyFile(positionals, 'tail');
    if (file === '-') throw new UsageError('tail: follows a file; for stdin use alm-otel tree -');
    const pollMs = Number(values['poll-ms']);
    if (!Number.isInteger(pollMs) || pollMs < 10) throw new UsageError('tail: --poll-ms must be a whole number ≥ 10');
    const options = drawOptions(io, values);
    const follower = new Follower(file, io, options, maxLineBytes(values['max-line-mb'], 'tail'));
    if (values['since-now']) await follower.skipToEnd();
    await follower.follow(pollMs);
    return EXIT_OK;
  },
};

export const trace: Command = {
  summary: "fetch a trace from Jaeger's query API and draw it as a tree",
  help: `Usage: alm-otel trace <trace_id> [options]

Fetches one trace from Jaeger's HTTP query API (GET <jaeger>/api/v3/traces/<trace_id>, OTLP/JSON),
turns its spans into ALM events as convert does, and draws them as tree does: each run's tasks, the
tool calls with their policy decisions and status, the summary. Exit code 1 when Jaeger cannot be
reached, does not know the trace, or the trace holds no alm-otel or execute_tool span.

  npx alm-otel trace 4bf92f3577b34da6a3ce929d0e0e4736
  npx alm-otel trace 4bf92f3577b34da6a3ce929d0e0e4736 --jaeger http://jaeger.internal:16686

Options:
  --jaeger <url>      Jaeger's query service (default: the ALM_OTEL_JAEGER_URL environment variable,
                      else ${DEFAULT_JAEGER_URL}); each run's trace link points there too
  --timeout-ms <ms>   Give up on Jaeger after this long (default 10000)
  --llm-events        Also draw alm.llm model-call spans' events (as convert --llm-events)
  --no-link           Print the trace_id without a link
  --ids               Also print task ids and tool call ids
  --color, --no-color Force colour on or off (default: on when stdout is a terminal and NO_COLOR is unset)
  -h, --help          Show this help`,
  async run(args, io) {
    const { values, positionals } = parse(args, {
      jaeger: { type: 'string' },
      'timeout-ms': { type: 'string', default: '10000' },
      'llm-events': { type: 'boolean' },
      color: { type: 'boolean' },
      'no-color': { type: 'boolean' },
      'no-link': { type: 'boolean' },
      ids: { type: 'boolean' },
    });
    if (values.help) return (write(io.stdout, this.help), EXIT_OK);
    if (positionals.length > 1) throw new UsageError(`trace: expected one trace id, got ${positionals.length}`);
    const traceId = traceIdArg(positionals[0]);
    const jaeger = jaegerUrlArg(values.jaeger ?? (io.env.ALM_OTEL_JAEGER_URL || DEFAULT_JAEGER_URL));
    const timeoutMs = Number(values['timeout-ms']);
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
      throw new UsageError('trace: --timeout-ms must be a whole number of milliseconds ≥ 1');
    }
    let converted;
    try {
      converted = await fetchTrace(jaeger, traceId, { timeoutMs, llmEvents: values['llm-events'] === true });
    } catch (error) {
      if (!(error instanceof TraceFetchError)) throw error;
      write(io.stderr, `alm-otel trace: ${error.message}`);
      return EXIT_INVALID;
    }
    if (converted.events.length === 0) {
      write(
        io.stderr,
        `alm-otel trace: none of the ${converted.spans} spans of trace ${traceId} is an alm-otel or execute_tool span`,
      );
      return EXIT_INVALID;
    }
    if (converted.cycles.length > 0) {
      write(io.stderr, `alm-otel trace: ${converted.cycles.length} spans are in (or under) a parent cycle`);
    }
    const options = drawOptions(io, { ...values, 'jaeger-url': jaeger.href });
    const forest = new RunForest();
    for (const event of converted.events) forest.add(event);
    const drawn = [...forest.runs.values()].map((run) => drawRun(run, options).join('\n')).join('\n\n');
    await writeOut(io.stdout, drawn + '\n');
    return EXIT_OK;
  },
};

/** How much of a file's beginning `tail` remembers, to see that the file was replaced or rewritten. */
const FINGERPRINT_BYTES = 4096;
const READ_BYTES = 1 << 20;

/**
 * Reads what a file gains, line by line, and draws runs as they end. It holds the file open and
 * notices, on every look:
 * - a rotation (the path now names another file: device and inode differ): the rest of the old file
 *   is read first, then the new one from its start;
 * - a truncation (the file is shorter than what was read), and a rewrite (the file is as long or
 *   longer, but its first bytes are no longer those read; e.g. truncated and refilled between two
 *   looks): it is read again from its start.
 * A line longer than --max-line-mb is skipped with a notice, at the cost of reading it, not holding it.
 */
class Follower {
  private handle: FileHandle | undefined;
  private identity = '';
  private offset = 0;
  /** The first bytes read (up to FINGERPRINT_BYTES). */
  private head = Buffer.alloc(0);
  private readonly buffer = Buffer.allocUnsafe(READ_BYTES);
  private readonly splitter: LineSplitter;
  private forest = new RunForest();
  private reading: Promise<void> | undefined;
  private again = false;
  /** The file read before was renamed away or deleted: the next one at the path is a new file. */
  private rotated = false;
  /** While skipping what the file held at the start (--since-now): lines are counted, not drawn. */
  private quiet = false;

  constructor(
    private readonly file: string,
    private readonly io: Io,
    private readonly options: DrawOptions,
    private readonly maxBytes: number,
  ) {
    this.splitter = new LineSplitter(maxBytes, (line) => this.onLine(line));
  }

  async skipToEnd(): Promise<void> {
    this.quiet = true;
    try {
      await this.readNew();
    } finally {
      this.quiet = false;
    }
  }

  /** Never resolves by itself: the process ends on a signal. */
  async follow(pollMs: number): Promise<void> {
    const poll = setInterval(() => void this.read(), pollMs);
    try {
      await this.read();
      for (;;) {
        try {
          // Sees the file appear, grow, and be replaced.
          for await (const _ of watch(this.file, { persistent: true })) void this.read();
        } catch {
          // Not there yet, or gone: polling reads it when it is back.
        }
        await new Promise((resolve) => setTimeout(resolve, pollMs));
      }
    } finally {
      clearInterval(poll);
    }
  }

  /** Reads are serialised; a change during one schedules another. */
  private read(): Promise<void> {
    if (this.reading !== undefined) {
      this.again = true;
      return this.reading;
    }
    this.reading = this.readNew()
      .catch((error: unknown) => write(this.io.stderr, `alm-otel tail: cannot read ${this.file}: ${errorCode(error)}`))
      .finally(() => {
        this.reading = undefined;
        if (this.again) {
          this.again = false;
          void this.read();
        }
      });
    return this.reading;
  }

  private notice(what: string): void {
    write(this.io.stderr, `alm-otel tail: ${this.file} ${what}; reading it from the start`);
  }

  /** Start over on the file: from byte 0, line 1 (and, unless it was rotated, without the runs seen). */
  private restart(forgetRuns: boolean): void {
    this.offset = 0;
    this.head = Buffer.alloc(0);
    this.splitter.reset();
    if (forgetRuns) this.forest = new RunForest();
  }

  private async readNew(): Promise<void> {
    let identity: string | undefined;
    try {
      const st = await stat(this.file);
      identity = `${st.dev}:${st.ino}`;
    } catch {
      // Gone (rotated away, not yet recreated): finish what the old file still gives.
    }
    if (this.handle !== undefined && identity !== this.identity) {
      await this.readTo(this.handle, (await this.handle.stat()).size);
      this.splitter.end();
      await this.handle.close();
      this.handle = undefined;
      this.restart(false);
      this.rotated = true;
    }
    if (identity === undefined) return;
    if (this.handle === undefined) {
      try {
        this.handle = await open(this.file, 'r');
      } catch {
        return;
      }
      const st = await this.handle.stat();
      this.identity = `${st.dev}:${st.ino}`;
      if (this.rotated) this.notice('was replaced (rotated)');
      this.rotated = false;
    }
    const handle = this.handle;
    const size = (await handle.stat()).size;
    if (size < this.offset) {
      this.notice('was truncated');
      this.restart(true);
    } else if (this.head.length > 0) {
      const now = Buffer.alloc(this.head.length);
      const { bytesRead } = await handle.read(now, 0, now.length, 0);
      if (bytesRead < now.length || !now.equals(this.head)) {
        this.notice('was rewritten (its first bytes changed)');
        this.restart(true);
      }
    }
    await this.readTo(handle, size);
  }

  private async readTo(handle: FileHandle, end: number): Promise<void> {
    while (this.offset < end) {
      const { bytesRead } = await handle.read(this.buffer, 0, Math.min(READ_BYTES, end - this.offset), this.offset);
      if (bytesRead === 0) return;
      const chunk = this.buffer.subarray(0, bytesRead);
      if (this.head.length < FINGERPRINT_BYTES && this.offset === this.head.length) {
        this.head = Buffer.concat([this.head, chunk.subarray(0, FINGERPRINT_BYTES - this.head.length)]);
      }
      this.offset += bytesRead;
      this.splitter.push(chunk);
    }
  }

  private onLine(input: InputLine): void {
    if (this.quiet) return;
    if (!('text' in input)) {
      write(this.io.stderr, `alm-otel tail: ${tooLongNotice(input, this.maxBytes)}`);
      return;
    }
    if (input.text.trim() === '') return;
    const result = checkLine(input.text, input.line);
    if (!('event' in result)) {
      for (const p of result.problems) write(this.io.stderr, `alm-otel tail: ${formatProblem(p)}`);
      return;
    }
    if (result.event.run_id === null) return; // tool calls outside a run never end a run
    const ended = this.forest.add(forDrawing(result.event));
    if (ended !== undefined) {
      this.forest.delete(ended);
      write(this.io.stdout, drawRun(ended, this.options).join('\n') + '\n');
    }
    if (this.forest.runs.size > MAX_OPEN_RUNS) this.forest.delete(this.forest.runs.values().next().value!);
  }
}

export const commands: Record<string, Command> = { tree, validate, convert, tail, trace };
