#!/usr/bin/env node
/**
 * `alm-otel`: look at ALM events instead of reading JSON.
 *
 *   alm-otel tree <events.jsonl | ->      draw each run as a tree
 *   alm-otel validate <events.jsonl | ->  check every line against the ALM event schema
 *   alm-otel convert <otlp.json | ->      OTLP/JSON traces (collector file exporter) to ALM events
 *   alm-otel tail <events.jsonl>          follow a file sink, drawing runs as they end
 *   alm-otel trace <trace_id>             fetch a trace from Jaeger and draw it
 */
import { SDK_VERSION } from '../version';
import { commands } from './commands';
import { EXIT_OK, EXIT_USAGE, UsageError, type Io } from './common';

const HELP = `Usage: alm-otel <command> [options]

Commands:
${Object.entries(commands)
  .map(([name, c]) => `  ${name.padEnd(10)}${c.summary}`)
  .join('\n')}

Run alm-otel <command> --help for a command's options. Exit codes: 0 ok, 1 invalid input, 2 usage error.
alm-otel ${SDK_VERSION}`;

export async function main(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(`${HELP}\n`);
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (name === '--version' || name === '-v') {
    io.stdout.write(`${SDK_VERSION}\n`);
    return EXIT_OK;
  }
  const command = commands[name];
  try {
    if (command === undefined || !Object.hasOwn(commands, name)) {
      throw new UsageError(`unknown command '${name}' (commands: ${Object.keys(commands).join(', ')})`);
    }
    return await command.run(rest, io);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`alm-otel: ${error.message}\nRun alm-otel ${command ? `${name} ` : ''}--help for usage.\n`);
    return EXIT_USAGE;
  }
}

if (require.main === module) {
  // A reader that goes away (`| head`) is not an error.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
  const stop = () => process.exit(0);
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  main(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
  })
    .then((code) => {
      process.exitCode = code;
    })
    .catch((error: unknown) => {
      // A bug of ours: one line, unless asked for the stack (ALM_OTEL_DEBUG=1).
      const detail =
        error instanceof Error ? (process.env.ALM_OTEL_DEBUG ? error.stack : error.message) : String(error);
      process.stderr.write(`alm-otel: unexpected error: ${detail}\n`);
      process.exitCode = 1;
    });
}
