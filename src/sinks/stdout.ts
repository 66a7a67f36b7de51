/** Writes each batch as JSON lines to stdout, in one write per batch. */
import { writeSync } from 'node:fs';
import type { EventSink } from '../delivery/delivery';
import type { ALMEvent } from '../events/schema';
import type { ErrorReporter } from '../report';

/** One event per line, each line ended by a newline. */
export const JSON_LINES = { head: '', separator: '\n', tail: '\n' } as const;

/** Events as JSON lines, for a batch delivery did not serialise. */
export function jsonLines(events: readonly ALMEvent[]): string {
  let text = '';
  for (const event of events) text += JSON.stringify(event) + '\n';
  return text;
}

export class StdoutSink implements EventSink {
  readonly framing = JSON_LINES;
  constructor(
    report: ErrorReporter,
    private readonly stream: NodeJS.WritableStream = process.stdout,
  ) {
    // An unhandled 'error' on stdout (EPIPE when piped into `head`) would crash the process.
    if (stream.listenerCount('error') === 0) stream.on('error', report);
    if (stream === process.stdout) this.writeSync = (lines) => writeAllSync(1, lines.join('\n') + '\n');
  }

  /** Only for process.stdout (file descriptor 1). */
  readonly writeSync?: (lines: readonly string[]) => void;

  write(events: ALMEvent[]): Promise<void> {
    return this.writeBody(jsonLines(events));
  }

  writeBody(data: Uint8Array | string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.stream.write(data, (error) => (error ? reject(error) : resolve()));
    });
  }
}

/** Write all of `text` to `fd`, waiting out EAGAIN (a non-blocking pipe that is full). */
function writeAllSync(fd: number, text: string): void {
  const data = Buffer.from(text);
  let offset = 0;
  let spins = 0;
  while (offset < data.length) {
    try {
      offset += writeSync(fd, data, offset);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN' || ++spins > 100_000) throw error;
    }
  }
}
