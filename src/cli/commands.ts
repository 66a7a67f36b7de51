/** The four commands of `alm-otel`: tree, validate, convert, tail. Each returns its exit code. */
import { createReadStream } from 'node:fs';
import { stat, watch, writeFile } from 'node:fs/promises';
import {
  EXIT_INVALID,
  EXIT_OK,
  checkLine,
  formatProblem,
  lines,
  parse,
  readInput,
  styler,
  UsageError,
  type Io,
  type LineProblem,
} from './common';
import { convertSpans, OtlpFormatError, parseOtlp } from './otlp';
import { eventsFromOtlpLogs, isOtlpLogs } from './otlp-logs';
import { drawRun, RunForest, type DrawOptions } from './tree';

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

  npm run --silent example | npx alm-otel tree -
  npx alm-otel tree alm-events.jsonl --run 0d1c4b1e-8a6f-4e53-9d2b-2f1f6f3c9a10

Options:
  --run <run_id>      Draw this run only
${DRAW_HELP}
  -h, --help          Show this help`,
  async run(args, io) {
    const { values, positionals } = parse(args, { ...DRAW_OPTIONS, run: { type: 'string' } });
    if (values.help) return (write(io.stdout, this.help), EXIT_OK);
    const file = onlyFile(positionals, 'tree');
    const text = await readInput(io, file);
    const forest = new RunForest();
    const problems: LineProblem[] = [];
    for (const { line, text: lineText } of lines(text)) {
      const result = checkLine(lineText, line);
      if ('event' in result) forest.add(result.event);
      else problems.push(...result.problems);
    }
    for (const p of problems) write(io.stderr, `alm-otel tree: ${formatProblem(p)}`);
    let runs = [...forest.runs.values()];
    if (values.run !== undefined) {
      runs = runs.filter((r) => r.runId === values.run);
      if (runs.length === 0) {
        write(io.stderr, `alm-otel tree: no run ${values.run} in ${file}`);
        return EXIT_INVALID;
      }
    }
    if (runs.length === 0) {
      write(io.stderr, `alm-otel tree: no ALM events in ${file === '-' ? 'stdin' : file}`);
      return EXIT_INVALID;
    }
    const options = drawOptions(io, values);
    write(io.stdout, runs.map((run) => drawRun(run, options).join('\n')).join('\n\n'));
    return problems.length === 0 ? EXIT_OK : EXIT_INVALID;
  },
};

export const validate: Command = {
  summary: 'check every line of an events file against the ALM event schema',
  help: `Usage: alm-otel validate <events.jsonl | -> [options]

Checks every line against ALMEventSchema (the reference schema 1.0 plus trace_id / span_id) and prints
each problem as "line N: field: what is wrong (event type)". Blank lines are skipped. Exit code 0 when
every line is a valid event, 1 when any is not (or there are none), 2 on a usage error.

  npx alm-otel validate alm-events.jsonl

Options:
  -q, --quiet         Print problems only, not the final count
  -h, --help          Show this help`,
  async run(args, io) {
    const { values, positionals } = parse(args, { quiet: { type: 'boolean', short: 'q' } });
    if (values.help) return (write(io.stdout, this.help), EXIT_OK);
    const file = onlyFile(positionals, 'validate');
    const text = await readInput(io, file);
    let valid = 0;
    let invalid = 0;
    for (const { line, text: lineText } of lines(text)) {
      const result = checkLine(lineText, line);
      if ('event' in result) {
        valid++;
        continue;
      }
      invalid++;
      for (const p of result.problems) write(io.stdout, formatProblem(p));
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
named) or holds no span to translate.

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
    const { events, skipped, spans } = converted;
    if (events.length === 0) {
      write(io.stderr, `alm-otel convert: none of the ${spans} spans is an alm-otel or execute_tool span`);
      return EXIT_INVALID;
    }
    const out = events.map((e) => JSON.stringify(e) + '\n').join('');
    if (values.output !== undefined) await writeFile(values.output, out);
    else io.stdout.write(out);
    write(
      io.stderr,
      `alm-otel convert: ${spans} spans, ${events.length} events` +
        (skipped > 0 ? ` (${skipped} spans skipped: not alm-otel or execute_tool spans)` : ''),
    );
    return EXIT_OK;
  },
};

/** `convert` of OTLP/JSON logs: the ALM events the otlp sink sent, rebuilt exactly. */
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
  const out = events.map((e) => JSON.stringify(e) + '\n').join('');
  if (output !== undefined) await writeFile(output, out);
  else io.stdout.write(out);
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
it does not exist yet, and starts over if it is truncated. Invalid lines are reported on stderr with
their line number. Stops on Ctrl-C.

  npx alm-otel tail alm-events.jsonl

Options:
  --since-now         Skip what the file holds already
  --poll-ms <ms>      Also check the file this often, for file systems without change notification
                      (default 1000)
${DRAW_HELP}
  -h, --help          Show this help`,
  async run(args, io) {
    const { values, positionals } = parse(args, {
      ...DRAW_OPTIONS,
      'since-now': { type: 'boolean' },
      'poll-ms': { type: 'string', default: '1000' },
    });
    if (values.help) return (write(io.stdout, this.help), EXIT_OK);
    const file = onlyFile(positionals, 'tail');
    if (file === '-') throw new UsageError('tail: follows a file; for stdin use alm-otel tree -');
    const pollMs = Number(values['poll-ms']);
    if (!Number.isInteger(pollMs) || pollMs < 10) throw new UsageError('tail: --poll-ms must be a whole number ≥ 10');
    const options = drawOptions(io, values);
    const follower = new Follower(file, io, options);
    if (values['since-now']) await follower.skipToEnd();
    await follower.follow(pollMs);
    return EXIT_OK;
  },
};

/** Reads what a file gains, line by line, and draws runs as they end. */
class Follower {
  private offset = 0;
  private lineNo = 0;
  private partial = '';
  private forest = new RunForest();
  private reading: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly file: string,
    private readonly io: Io,
    private readonly options: DrawOptions,
  ) {}

  async skipToEnd(): Promise<void> {
    const size = await this.size();
    if (size === undefined) return;
    // Count the lines skipped, so later line numbers match the file's.
    await this.readRange(0, size, (line) => void line);
    this.offset = size;
  }

  /** Never resolves by itself: the process ends on a signal. */
  async follow(pollMs: number): Promise<void> {
    const poll = setInterval(() => this.read(), pollMs);
    try {
      await this.read();
      for (;;) {
        try {
          // Directory watch: sees the file appear, grow, and be replaced.
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

  private async size(): Promise<number | undefined> {
    try {
      return (await stat(this.file)).size;
    } catch {
      return undefined;
    }
  }

  /** Reads are serialised; a change during one schedules another. */
  private read(): Promise<void> {
    if (this.reading !== undefined) {
      this.again = true;
      return this.reading;
    }
    this.reading = this.readNew().finally(() => {
      this.reading = undefined;
      if (this.again) {
        this.again = false;
        void this.read();
      }
    });
    return this.reading;
  }

  private async readNew(): Promise<void> {
    const size = await this.size();
    if (size === undefined) return;
    if (size < this.offset) {
      write(this.io.stderr, `alm-otel tail: ${this.file} was truncated; reading it from the start`);
      this.offset = 0;
      this.lineNo = 0;
      this.partial = '';
      this.forest = new RunForest();
    }
    if (size === this.offset) return;
    const end = size;
    await this.readRange(this.offset, end, (line) => this.onLine(line));
    this.offset = end;
  }

  private readRange(start: number, end: number, onLine: (text: string) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      const stream = createReadStream(this.file, { start, end: end - 1, encoding: 'utf8' });
      stream.on('data', (chunk) => {
        const parts = (this.partial + (chunk as string)).split('\n');
        this.partial = parts.pop()!;
        for (const part of parts) {
          this.lineNo++;
          onLine(part);
        }
      });
      stream.on('error', reject);
      stream.on('end', resolve);
    });
  }

  private onLine(text: string): void {
    if (text.trim() === '') return;
    const result = checkLine(text.replace(/\r$/, ''), this.lineNo);
    if (!('event' in result)) {
      for (const p of result.problems) write(this.io.stderr, `alm-otel tail: ${formatProblem(p)}`);
      return;
    }
    if (result.event.run_id === null) return; // tool calls outside a run never end a run
    const ended = this.forest.add(result.event);
    if (ended !== undefined) {
      this.forest.delete(ended);
      write(this.io.stdout, drawRun(ended, this.options).join('\n') + '\n');
    }
    if (this.forest.runs.size > MAX_OPEN_RUNS) this.forest.delete(this.forest.runs.values().next().value!);
  }
}

export const commands: Record<string, Command> = { tree, validate, convert, tail };
