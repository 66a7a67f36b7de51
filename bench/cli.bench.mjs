/**
 * `alm-otel validate` and `alm-otel tree` on large inputs: CPU time (user + system) and peak RSS of the
 * built command (dist/cli/index.cjs), reported by the child itself at exit (process.resourceUsage()).
 *
 * The events are the toy agent's (examples/toy-agent.ts, with llmEvents on: every event type), repeated
 * under fresh run, task, event and call ids so that the input holds many distinct runs. A run of the
 * toy agent is 51 lines (two runs), ~500 bytes a line.
 *
 *   npm run bench:cli                           1 M lines from a file in the OS temp directory, then 10 M through stdin
 *   node bench/cli.bench.mjs --lines 1000000 --file     only the file case
 *   node bench/cli.bench.mjs --lines 10000000 --stdin   only the stdin case (nothing written to disk)
 *   node bench/cli.bench.mjs --cli path/to/index.cjs    another build (e.g. main's) to compare
 *   node bench/cli.bench.mjs --generate 10000000 | /usr/bin/time -v node dist/cli/index.cjs tree - > /dev/null
 *
 * The file is deleted afterwards. Through stdin the lines are generated as the command reads them,
 * so 10 M lines (~5 GB) never touch the disk; the generator's own CPU is not counted.
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    lines: { type: 'string' },
    file: { type: 'boolean' },
    stdin: { type: 'boolean' },
    cli: { type: 'string', default: 'dist/cli/index.cjs' },
    commands: { type: 'string', default: 'validate,tree' },
    generate: { type: 'string' },
  },
});
const CLI = resolve(values.cli);
const commands = values.commands.split(',');
const cases =
  values.file || values.stdin
    ? [
        ...(values.file ? [{ how: 'file', lines: Number(values.lines ?? 1e6) }] : []),
        ...(values.stdin ? [{ how: 'stdin', lines: Number(values.lines ?? 1e7) }] : []),
      ]
    : [
        { how: 'file', lines: 1e6 },
        { how: 'stdin', lines: 1e7 },
      ];

/** The toy agent's events, llmEvents on, as JSON lines. */
function record() {
  const script = `
    import { createToyAlm, runToyAgent, runModelAgent } from './examples/toy-agent';
    const alm = createToyAlm({ events: { sink: 'stdout', llmEvents: true } });
    void (async () => { await runToyAgent(alm); await runModelAgent(alm); await alm.shutdown(); })();`;
  const out = execFileSync(resolve('node_modules/.bin/tsx'), ['-e', script], { encoding: 'utf8', stdio: 'pipe' });
  return out.trim().split('\n');
}

/**
 * A generator of the recorded runs under fresh ids: every uuid in the template is replaced by one
 * that differs from it in its last 12 hex digits (a counter), so ids stay valid and distinct.
 */
function generator(template) {
  const text = template.join('\n') + '\n';
  const uuid = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
  const parts = [];
  const prefixes = [];
  let last = 0;
  for (const m of text.matchAll(uuid)) {
    parts.push(text.slice(last, m.index));
    prefixes.push(m[0].slice(0, 24));
    last = m.index + m[0].length;
  }
  parts.push(text.slice(last));
  let counter = 0;
  return () => {
    const suffix = (counter++).toString(16).padStart(12, '0');
    let out = parts[0];
    for (let i = 0; i < prefixes.length; i++) out += prefixes[i] + suffix + parts[i + 1];
    return out;
  };
}

/** The CLI run on `input` (a path, or a function that feeds stdin); its CPU seconds and peak RSS. */
function measure(args, feed) {
  return new Promise((resolvePromise, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--require', probe, CLI, ...args], {
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    let tail = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (tail = (tail + d).slice(-200)));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const m = /\nusage (\d+) (\d+) (\d+)\n$/.exec(stderr);
      if (!m) return reject(new Error(`no usage from the child (exit ${code}): ${stderr.slice(-500)}`));
      resolvePromise({
        code,
        wallS: (Date.now() - started) / 1000,
        cpuS: (Number(m[1]) + Number(m[2])) / 1e6,
        rssMb: Number(m[3]) / 1024,
        last: (stderr.slice(0, m.index).trim() || tail.trim()).split('\n').at(-1),
      });
    });
    if (feed) feed(child.stdin);
    else child.stdin.end();
  });
}

/** Writes `lines` lines of runs to a stream, waiting when it is full. */
function feeder(template, lines) {
  return (stream) => {
    const next = generator(template);
    let written = 0;
    const write = () => {
      while (written < lines) {
        let chunk = '';
        while (chunk.length < 1 << 20 && written < lines) {
          chunk += next();
          written += template.length;
        }
        if (!stream.write(chunk)) return void stream.once('drain', write);
      }
      stream.end();
    };
    stream.on('error', () => {});
    write();
  };
}

const template = record();
if (values.generate !== undefined) {
  // Only the lines, on stdout: node bench/cli.bench.mjs --generate 10000000 | /usr/bin/time -v alm-otel tree -
  const lines = Number(values.generate);
  feeder(template, Math.ceil(lines / template.length) * template.length)(process.stdout);
} else {
  await bench();
}

async function bench() {
  const [load1] = loadavg();
  console.log(`node ${process.version}, ${CLI}; load average ${load1.toFixed(2)} at start`);
  const dir = mkdtempSync(join(tmpdir(), 'alm-cli-bench-'));
  /** Loaded with --require: the child's own CPU time and peak RSS, on stderr at exit. */
  const probe = join(dir, 'usage.cjs');
  writeFileSync(
    probe,
    "process.on('exit', () => { const u = process.resourceUsage(); " +
      "require('fs').writeSync(2, `\\nusage ${u.userCPUTime} ${u.systemCPUTime} ${u.maxRSS}\\n`); });",
  );
  try {
    for (const c of cases) {
      const runs = Math.ceil(c.lines / template.length);
      const lines = runs * template.length;
      let path;
      if (c.how === 'file') {
        path = join(dir, 'events.jsonl');
        const fd = openSync(path, 'w');
        const next = generator(template);
        for (let i = 0; i < runs; i += 1000) {
          let chunk = '';
          for (let j = i; j < Math.min(runs, i + 1000); j++) chunk += next();
          writeSync(fd, chunk);
        }
        closeSync(fd);
      }
      for (const command of commands) {
        const args = [command, c.how === 'file' ? path : '-'];
        const r = await measure(args, c.how === 'file' ? undefined : feeder(template, lines));
        console.log(
          `${command.padEnd(8)} ${(lines / 1e6).toFixed(1)} M lines (${runs} runs) from ${c.how.padEnd(5)}: ` +
            `${r.cpuS.toFixed(1)} s CPU (${((r.cpuS / lines) * 1e6).toFixed(2)} µs a line), ${r.wallS.toFixed(1)} s wall, ` +
            `max RSS ${r.rssMb.toFixed(0)} MB, exit ${r.code}: ${r.last}`,
        );
      }
      if (path) rmSync(path, { force: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  writeFileSync(1, `load average ${loadavg()[0].toFixed(2)} at the end\n`);
}
