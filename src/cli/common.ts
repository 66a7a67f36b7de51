/**
 * What the CLI's commands share: argument parsing (Node's own `util.parseArgs`), colour (Node's own
 * `util.styleText`, only on a TTY), reading a file or stdin, and reading ALM event lines.
 */
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import * as util from 'node:util';
import { ALMEventSchema, type ALMEvent } from '../events/schema';
import { ENGLISH } from '../messages';
import { compileCheck, type Check } from './fast-check';

/** Exit codes: 0 all good, 1 the input is invalid (or a command found problems), 2 a usage error. */
export const EXIT_OK = 0;
export const EXIT_INVALID = 1;
export const EXIT_USAGE = 2;

/** A usage problem (unknown option, missing argument, unreadable file): exit code 2, message on stderr. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
  env: Record<string, string | undefined>;
}

type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string; default?: string | boolean }>;

/** `util.parseArgs`, strict, with `--help`; a parse failure becomes a UsageError naming the option. */
export function parse<O extends OptionSpec>(
  args: string[],
  options: O,
): {
  values: { [K in keyof O]?: O[K]['type'] extends 'string' ? string : boolean } & { help?: boolean };
  positionals: string[];
} {
  try {
    const parsed = util.parseArgs({
      args,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
    return parsed as never;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

export type Style = (format: Parameters<typeof util.styleText>[0], text: string) => string;

/**
 * Colour only when it helps: stdout is a TTY, NO_COLOR is not set (https://no-color.org), or when
 * forced (`--color`, FORCE_COLOR). `util.styleText` exists from Node 20.12; without it, no colour.
 */
export function styler(io: Io, flags: { color?: boolean; 'no-color'?: boolean }): Style {
  const styleText = (util as { styleText?: typeof util.styleText }).styleText;
  const env = io.env;
  let on: boolean;
  if (flags['no-color']) on = false;
  else if (flags.color) on = true;
  else if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') on = false;
  // As Node reads it: FORCE_COLOR set (even empty) forces colour, except 0 or false.
  else if (env.FORCE_COLOR !== undefined) on = env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false';
  else on = io.stdout.isTTY === true && env.TERM !== 'dumb';
  if (!on || styleText === undefined) return (_format, text) => text;
  // Newer Nodes check the stream themselves unless told not to (we decided above); a list of formats is
  // applied one by one, which every Node with styleText supports.
  const one = (format: string, text: string) => styleText(format as never, text, { validateStream: false } as never);
  return (format, text) =>
    Array.isArray(format) ? format.reduceRight((t: string, f: string) => one(f, t), text) : one(format as string, text);
}

/** The whole of a file, or of stdin for `-`. Unreadable files are usage errors. */
export async function readInput(io: Io, file: string): Promise<string> {
  if (file === '-') {
    let text = '';
    io.stdin.setEncoding('utf8');
    for await (const chunk of io.stdin) text += chunk as string;
    return text;
  }
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${errorCode(error)}`);
  }
}

export function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
}

/** A line of input: its text, or (`tooLong`) how many bytes an over-long line had when it was skipped. */
export type InputLine = { line: number; text: string } | { line: number; tooLong: number };

const NEWLINE = 0x0a;

/** A line's text, without the \r of a CRLF line end. */
function text(bytes: Buffer): string {
  const end = bytes.length > 0 && bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length;
  return bytes.toString('utf8', 0, end);
}

/**
 * Splits bytes into lines as they arrive, in time linear in the input whatever the line lengths:
 * pieces of a line are kept as buffers and joined once, at its newline. A line longer than
 * `maxLineBytes` is not kept at all: its bytes are counted and dropped as they come, and it is
 * reported as `tooLong`. Lines are numbered from 1 as editors number them, blank ones included.
 */
export class LineSplitter {
  private pieces: Buffer[] = [];
  private held = 0;
  private skipping = false;
  lineNo = 0;

  constructor(
    private readonly maxLineBytes: number,
    private readonly onLine: (line: InputLine) => void,
  ) {}

  push(chunk: Buffer): void {
    let from = 0;
    for (;;) {
      const at = chunk.indexOf(NEWLINE, from);
      if (at === -1) {
        this.hold(chunk.subarray(from));
        return;
      }
      if (this.held === 0 && !this.skipping) this.whole(chunk, from, at);
      else {
        this.hold(chunk.subarray(from, at));
        this.emit();
      }
      from = at + 1;
    }
  }

  /** A line that lies whole in one chunk (most do): decoded from it, without a copy. */
  private whole(chunk: Buffer, from: number, at: number): void {
    const line = ++this.lineNo;
    const bytes = at - from;
    if (bytes > this.maxLineBytes) this.onLine({ line, tooLong: bytes });
    else this.onLine({ line, text: chunk.toString('utf8', from, bytes > 0 && chunk[at - 1] === 0x0d ? at - 1 : at) });
  }

  /** The last line, when the input does not end with a newline. */
  end(): void {
    if (this.held > 0 || this.skipping) this.emit();
  }

  /** Forget a line in progress and start numbering again (a file that was truncated or replaced). */
  reset(): void {
    this.pieces = [];
    this.held = 0;
    this.skipping = false;
    this.lineNo = 0;
  }

  private hold(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.held += bytes.length;
    if (this.skipping) return;
    if (this.held > this.maxLineBytes) {
      this.skipping = true;
      this.pieces = [];
      return;
    }
    // A copy: the reader may reuse the chunk's memory.
    this.pieces.push(Buffer.from(bytes));
  }

  private emit(): void {
    const line = ++this.lineNo;
    const held = this.held;
    const result: InputLine = this.skipping
      ? { line, tooLong: held }
      : { line, text: text(this.pieces.length === 1 ? this.pieces[0]! : Buffer.concat(this.pieces, held)) };
    this.pieces = [];
    this.held = 0;
    this.skipping = false;
    this.onLine(result);
  }
}

/** Lines longer than this are skipped with a notice (`--max-line-mb`). */
export const DEFAULT_MAX_LINE_MB = 64;

export function maxLineBytes(value: string | undefined, command: string): number {
  const mb = Number(value ?? DEFAULT_MAX_LINE_MB);
  if (!Number.isFinite(mb) || mb <= 0 || mb > 512) {
    throw new UsageError(`${command}: --max-line-mb must be a number of MiB above 0 and at most 512`);
  }
  return Math.floor(mb * 1024 * 1024);
}

/**
 * The lines of a file, or of stdin for `-`, read as a stream, a chunk's worth at a time: memory holds
 * a chunk and a line, never the file. Blank lines are left out (they still count in the numbering).
 * An unreadable file is a usage error.
 */
export async function* readLines(io: Io, file: string, maxBytes: number): AsyncGenerator<InputLine[]> {
  let stream: AsyncIterable<Buffer | string>;
  if (file === '-') {
    stream = io.stdin as AsyncIterable<Buffer | string>;
  } else {
    const opened = createReadStream(file, { highWaterMark: 1 << 20 });
    await new Promise<void>((resolve, reject) => {
      opened.once('open', () => resolve());
      opened.once('error', (error) => reject(new UsageError(`cannot read ${file}: ${errorCode(error)}`)));
    });
    stream = opened;
  }
  let ready: InputLine[] = [];
  const splitter = new LineSplitter(maxBytes, (line) => {
    if (!('text' in line) || line.text.trim() !== '') ready.push(line);
  });
  for await (const chunk of stream) {
    splitter.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    if (ready.length === 0) continue;
    const lines = ready;
    ready = [];
    yield lines;
  }
  splitter.end();
  if (ready.length > 0) yield ready;
}

/** Write, and wait when the stream asks to (a slow reader of a long output). */
export async function writeOut(stream: NodeJS.WritableStream, text: string): Promise<void> {
  if (stream.write(text)) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('error', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('error', done);
    stream.on('close', done);
  });
}

/** A dotted path as zod reports it: `metadata.summary.tool_calls.total`, `args.inputs["a b"]`, `items[2]`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_$][\w$]*$/.test(key)) out += out === '' ? key : `.${key}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out === '' ? '(event)' : out;
}

export interface LineProblem {
  line: number;
  /** The field at fault, as a dotted path; `(line)` when the line is not a JSON object at all. */
  field: string;
  message: string;
  eventType?: string;
}

export type LineResult = { line: number; event: ALMEvent } | { line: number; problems: LineProblem[] };

/**
 * ALMEventSchema as a compiled yes/no check (./fast-check), made on first use (the library, which
 * shares this module with the CLI, never pays for it); undefined if it could not be compiled.
 */
let compiledEvent: Check | undefined | null = null;
function eventCheck(): Check | undefined {
  if (compiledEvent === null) compiledEvent = compileCheck(ALMEventSchema);
  return compiledEvent;
}

/** One line of JSON-lines input, checked against ALMEventSchema: by the compiled check, else by zod. */
export function checkLine(text: string, line: number, compiled: Check | undefined = eventCheck()): LineResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { line, problems: [{ line, field: '(line)', message: `not JSON: ${(error as Error).message}` }] };
  }
  // Most lines are valid: the compiled check says so without building zod's copy of the event. A line
  // it refuses is parsed by zod, which decides and words the problems (all lines, without `compiled`).
  if (compiled !== undefined && compiled(value)) return { line, event: value as ALMEvent };
  const result = ALMEventSchema.safeParse(value, ENGLISH);
  if (result.success) return { line, event: result.data };
  const eventType =
    typeof value === 'object' && value !== null && typeof (value as { event_type?: unknown }).event_type === 'string'
      ? (value as { event_type: string }).event_type
      : undefined;
  return {
    line,
    problems: result.error.issues.flatMap((issue) =>
      issue.code === 'unrecognized_keys'
        ? issue.keys.map((key) => ({
            line,
            field: fieldPath([...issue.path, key]),
            message: 'unknown field',
            eventType,
          }))
        : [{ line, field: fieldPath(issue.path), message: issue.message, eventType }],
    ),
  };
}

/** Every non-blank line of JSON-lines text, numbered from 1 as editors number them. */
export function* lines(text: string, firstLine = 1): Generator<{ line: number; text: string }> {
  const all = text.split('\n');
  for (let i = 0; i < all.length; i++) {
    const t = all[i]!.replace(/\r$/, '');
    if (t.trim() !== '') yield { line: firstLine + i, text: t };
  }
}

export function formatProblem(p: LineProblem): string {
  return `line ${p.line}: ${p.field}: ${p.message}${p.eventType !== undefined ? ` (${p.eventType})` : ''}`;
}
