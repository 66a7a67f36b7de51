/** Writes each batch as JSON lines to stdout, in one write per batch. */
import type { EventSink } from '../delivery/delivery';
import type { ALMEvent } from '../events/schema';
import type { ErrorReporter } from '../report';

export class StdoutSink implements EventSink {
  readonly serialized = true;
  constructor(
    report: ErrorReporter,
    private readonly stream: NodeJS.WritableStream = process.stdout,
  ) {
    // An unhandled 'error' on stdout (EPIPE when piped into `head`) would crash the process.
    if (stream.listenerCount('error') === 0) stream.on('error', report);
  }

  write(events: ALMEvent[], lines?: readonly string[]): Promise<void> {
    let text = '';
    if (lines !== undefined) text = lines.join('\n') + '\n';
    else for (const event of events) text += JSON.stringify(event) + '\n';
    return new Promise((resolve, reject) => {
      this.stream.write(text, (error) => (error ? reject(error) : resolve()));
    });
  }
}
