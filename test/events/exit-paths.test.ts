/**
 * Exits without a chance to wait (issue 15, items 3 and 4), in real child processes running the built
 * package: process.exit() in every form, and an uncaught exception or unhandled rejection, leave
 * every event emitted before them in the spool, the file or stdout; what cannot be kept is reported.
 * The program's own ending is unchanged (an uncaught exception still prints and exits non-zero).
 */
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ALMEvent } from '../../src';
import { runNode } from '../helpers/child';
import { freePort } from '../helpers/receiver';

const lines = (text: string) =>
  text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as ALMEvent);
const spooled = (dir: string) =>
  readdirSync(dir)
    .filter((name) => name.endsWith('.spool'))
    .flatMap((name) => lines(readFileSync(join(dir, name), 'utf8')));
const ids = (events: ALMEvent[]) => new Set(events.map((e) => e.event_id));

/** A script: 100 tool calls in one run (302 events), then `ending`. */
function script(
  events: string,
  ending: string,
  onError = `(e) => process.stderr.write('onError: ' + e.message + '\\n')`,
) {
  return `
    import { ALM } from ALM_DIST;
    const alm = new ALM({ agentId: 'exiting', events: ${events}, onError: ${onError} });
    const t = alm.tool('t', (i) => i);
    ${ending}
  `;
}
const RUN = `alm.run(() => { for (let i = 0; i < 100; i++) t(i); });`;

describe('process.exit() with a spool', () => {
  let endpoint: string;
  beforeAll(async () => {
    endpoint = `http://127.0.0.1:${await freePort()}`; // connection refused
  });

  it.each([
    ['synchronously after a run', `${RUN} process.exit(0);`],
    [
      'after await alm.run with no I/O',
      `await alm.run(async () => { for (let i = 0; i < 100; i++) t(i); }); process.exit(0);`,
    ],
    ['from process.nextTick', `${RUN} process.nextTick(() => process.exit(0));`],
    ['from setImmediate', `${RUN} setImmediate(() => process.exit(0));`],
    ['from setTimeout 0', `${RUN} setTimeout(() => process.exit(0), 0);`],
    ['after await alm.flush() on a refused connection', `${RUN} await alm.flush(); process.exit(0);`],
  ])(
    '%s: every event is in the spool',
    async (_, ending) => {
      const dir = mkdtempSync(join(tmpdir(), 'alm-exit-'));
      const result = await runNode(
        script(`{ sink: 'http', endpoint: ${JSON.stringify(endpoint)}, spoolDir: ${JSON.stringify(dir)} }`, ending),
      );
      expect(result.code).toBe(0);
      expect(ids(spooled(dir)).size).toBe(302);
    },
    30_000,
  );
});

describe('process.exit() with a file or stdout sink', () => {
  it('the file holds every event', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'alm-exit-')), 'events.jsonl');
    const result = await runNode(script(`{ sink: 'file', path: ${JSON.stringify(path)} }`, `${RUN} process.exit(0);`));
    expect(result.code).toBe(0);
    const events = lines(readFileSync(path, 'utf8'));
    expect(events).toHaveLength(302);
    expect(ids(events).size).toBe(302);
  }, 30_000);

  it('stdout holds every event', async () => {
    const result = await runNode(script(`{ sink: 'stdout' }`, `${RUN} setImmediate(() => process.exit(0));`));
    expect(result.code).toBe(0);
    expect(ids(lines(result.stdout)).size).toBe(302);
  }, 30_000);

  it('the http sink without a spool says on stderr what it could not keep', async () => {
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    const result = await runNode(
      script(`{ sink: 'http', endpoint: ${JSON.stringify(endpoint)} }`, `${RUN} process.exit(0);`, 'undefined'),
    );
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(
      'alm-otel: the process is ending: 302 undelivered events could not be kept (this sink has no synchronous write; set events.spoolDir to keep them)',
    );
  }, 30_000);
});

describe('an uncaught exception or unhandled rejection', () => {
  const DENIED = `const denied = alm.tool('rm', () => 0); const deniedAsync = alm.tool('rm_async', async () => 0);`;
  const policy = `policy: { deniedTools: ['rm', 'rm_async'] }`;

  function crashing(events: string, ending: string): string {
    return `
      import { ALM } from ALM_DIST;
      const alm = new ALM({ agentId: 'crashing', ${policy}, events: ${events} });
      const t = alm.tool('t', (i) => i);
      ${DENIED}
      ${ending}
    `;
  }

  it('an uncaught denial still crashes the program as before, and the file holds every event', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'alm-crash-')), 'events.jsonl');
    const result = await runNode(
      crashing(
        `{ sink: 'file', path: ${JSON.stringify(path)} }`,
        `alm.run(() => { for (let i = 0; i < 10; i++) t(i); denied(); });`,
      ),
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("ToolDeniedError: Tool 'rm' denied");
    const kinds = lines(readFileSync(path, 'utf8')).map((e) => e.event_type);
    expect(kinds).toHaveLength(2 + 11 * 3); // the denied call has its tool.request, policy.decision and tool.response
    expect(kinds.filter((k) => k === 'policy.decision')).toHaveLength(11);
    expect(kinds.at(-1)).toBe('run.end');
  }, 30_000);

  it('an unhandled rejection still ends the program as before, and the spool holds every event', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'alm-crash-'));
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    const result = await runNode(
      crashing(
        `{ sink: 'http', endpoint: ${JSON.stringify(endpoint)}, spoolDir: ${JSON.stringify(dir)} }`,
        `alm.run(async () => { for (let i = 0; i < 10; i++) t(i); await deniedAsync(); });`,
      ),
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("ToolDeniedError: Tool 'rm_async' denied");
    const kinds = spooled(dir).map((e) => e.event_type);
    expect(kinds).toHaveLength(2 + 11 * 3); // the denied call has its tool.request, policy.decision and tool.response
    expect(kinds).toContain('run.end');
  }, 30_000);

  it('stdout holds every event of a script that throws at top level', async () => {
    const result = await runNode(crashing(`{ sink: 'stdout' }`, `${RUN} throw new Error('boom');`));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Error: boom');
    expect(ids(lines(result.stdout)).size).toBe(302);
  }, 30_000);
});
