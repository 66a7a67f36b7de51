/**
 * Every code block of README.md and docs/**\/*.md is held to the package as users get it:
 *
 * - ```ts and ```js blocks are type-checked (TypeScript, strict, `module: nodenext`, one ES module per
 *   block) in a scratch project where 'alm-otel' is the built package (package.json, dist/, testing/),
 *   and then run (tsx for ts, plain node for js) with a time limit, unless the fence says `no-run`
 *   (for a block that needs a network service). A block must be complete: its imports, no `...`.
 *   A block that imports a framework package (one of frameworks-test/package.json's) is checked when
 *   frameworks-test/node_modules is installed (`npm run test:frameworks` installs it), skipped otherwise.
 * - The README's ```js quickstart block is also pasted into a fresh project that installs the packed
 *   tarball (`npm pack`) and @opentelemetry/api, run there with plain node, and its output compared
 *   with the README's ```text quickstart-output block (ids and durations aside).
 * - ```sh blocks: every `npm run <script>` names a script of package.json, every `alm-otel <command>`
 *   is a command of the built CLI, and every package of an `npm install` line is one the project
 *   depends on or tests against.
 * - ```json blocks parse.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { ALMConfigSchema, CaptureConfigSchema, EventsConfigSchema, PolicyConfigSchema } from '../src/config/schema';
import {
  allBlocks,
  anchors,
  importedPackages,
  markdownFiles,
  normalOutput,
  relativeLinks,
  packageName,
  shellCommands,
  type Block,
} from './helpers/docs';
import { ROOT } from './helpers/scripts';

const blocks = allBlocks(ROOT);
const CODE_LANGS = new Set(['ts', 'typescript', 'js', 'javascript']);
const SH_LANGS = new Set(['sh', 'bash', 'shell']);
const OTHER_LANGS = new Set(['json', 'yaml', 'yml', 'text', '']);
const RUN_TIMEOUT_MS = 20_000;

const rootPkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  scripts: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
};
const frameworksPkg = JSON.parse(readFileSync(join(ROOT, 'frameworks-test', 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
};
const FRAMEWORK_MODULES = join(ROOT, 'frameworks-test', 'node_modules');
const frameworksInstalled = existsSync(join(FRAMEWORK_MODULES, 'ai'));

const where = (b: Block) => `${b.file}:${b.line}`;
const isCode = (b: Block) => CODE_LANGS.has(b.lang);
const isJs = (b: Block) => b.lang === 'js' || b.lang === 'javascript';
/** The block's file name in the scratch project (an ES module either way). */
const fileName = (b: Block) => `${b.file.replace(/[^\w]+/g, '_')}_L${b.line}.${isJs(b) ? 'mjs' : 'mts'}`;

const rootHas = (name: string) => existsSync(join(ROOT, 'node_modules', name));
const needsFrameworks = (b: Block) => importedPackages(b.code).some((p) => !rootHas(p) && p !== 'alm-otel');
const codeBlocks = blocks.filter(isCode);
const checkable = codeBlocks.filter((b) => frameworksInstalled || !needsFrameworks(b));

/** Link every entry of a node_modules directory into `target` (scopes entry by entry), unless present. */
function linkModules(from: string, target: string, skip: Set<string>): void {
  if (!existsSync(from)) return;
  for (const name of readdirSync(from)) {
    if (name.startsWith('.') || skip.has(name)) continue;
    if (name.startsWith('@')) {
      mkdirSync(join(target, name), { recursive: true });
      for (const child of readdirSync(join(from, name))) {
        const full = `${name}/${child}`;
        if (!skip.has(full) && !existsSync(join(target, full))) symlinkSync(join(from, full), join(target, full));
      }
    } else if (!existsSync(join(target, name))) {
      symlinkSync(join(from, name), join(target, name));
    }
  }
}

/** The built package as npm lays it out: package.json, dist/, testing/. */
function installBuiltPackage(modules: string): void {
  const pkg = join(modules, 'alm-otel');
  mkdirSync(pkg, { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
  cpSync(join(ROOT, 'dist'), join(pkg, 'dist'), { recursive: true });
  cpSync(join(ROOT, 'testing'), join(pkg, 'testing'), { recursive: true });
}

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  timedOut: boolean;
}

function run(file: string, args: string[], cwd: string, timeoutMs = RUN_TIMEOUT_MS): Promise<Result> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    delete env.FORCE_COLOR;
    const child = spawn(file, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - started, timedOut });
    });
  });
}

function exec(file: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(file, args, { cwd, timeout: 240_000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${file} ${args.join(' ')}: ${error.message}\n${stdout}\n${stderr}`)) : resolve(stdout),
    ),
  );
}

describe('docs: every code block', () => {
  let scratch: string;
  /** Type errors by block file name, with Markdown line numbers. */
  const diagnostics = new Map<string, string[]>();

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'alm-otel-docs-'));
    const modules = join(scratch, 'node_modules');
    mkdirSync(modules);
    installBuiltPackage(modules);
    linkModules(join(ROOT, 'node_modules'), modules, new Set(['alm-otel']));
    if (frameworksInstalled) linkModules(FRAMEWORK_MODULES, modules, new Set(['alm-otel']));
    writeFileSync(
      join(scratch, 'package.json'),
      JSON.stringify({ name: 'docs-blocks', private: true, type: 'module' }),
    );
    writeFileSync(
      join(scratch, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          lib: ['ES2022'],
          types: ['node'],
          strict: true,
          noEmit: true,
          allowJs: true,
          checkJs: true,
          skipLibCheck: true,
          isolatedModules: true,
        },
        include: ['*.mts', '*.mjs'],
      }),
    );
    for (const b of checkable) writeFileSync(join(scratch, fileName(b)), b.code);
    if (checkable.length === 0) return;
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const out = await new Promise<string>((resolve) =>
      execFile(process.execPath, [tsc, '-p', scratch, '--pretty', 'false'], { cwd: scratch }, (_e, stdout) =>
        resolve(stdout),
      ),
    );
    const byName = new Map(checkable.map((b) => [fileName(b), b]));
    let last: string[] | undefined;
    for (const line of out.split('\n')) {
      const m = /^(.+?)\((\d+),(\d+)\): (.*)$/.exec(line);
      if (m === null) {
        if (line.trim() !== '' && last !== undefined) last.push(line);
        else if (line.trim() !== '') diagnostics.set('(tsc)', [...(diagnostics.get('(tsc)') ?? []), line]);
        continue;
      }
      const [, file, row, col, message] = m as unknown as [string, string, string, string, string];
      const block = byName.get(file.split('/').pop()!);
      const key = block ? fileName(block) : '(tsc)';
      const at = block ? `${block.file}:${block.line + Number(row)}:${col}` : `${file}(${row},${col})`;
      last = diagnostics.get(key) ?? [];
      last.push(`${at}: ${message}`);
      diagnostics.set(key, last);
    }
  }, 180_000);

  afterAll(() => {
    if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
  });

  it('has blocks of known kinds only', () => {
    const unknown = blocks.filter((b) => !CODE_LANGS.has(b.lang) && !SH_LANGS.has(b.lang) && !OTHER_LANGS.has(b.lang));
    expect(unknown.map((b) => `${where(b)}: \`\`\`${b.lang}`)).toEqual([]);
    const flags = blocks.flatMap((b) =>
      b.flags
        .filter((f) => !['no-run', 'quickstart', 'quickstart-output', 'example-output'].includes(f))
        .map((f) => `${where(b)}: ${f}`),
    );
    expect(flags).toEqual([]);
  });

  it('type-checks as a whole (no errors outside the blocks)', () => {
    expect(diagnostics.get('(tsc)') ?? []).toEqual([]);
  });

  it('imports only packages the project depends on or tests against', () => {
    const known = new Set([
      'alm-otel',
      ...Object.keys(rootPkg.dependencies ?? {}),
      ...Object.keys(rootPkg.devDependencies ?? {}),
      ...Object.keys(rootPkg.peerDependencies ?? {}),
      ...Object.keys(frameworksPkg.dependencies),
    ]);
    const strays = codeBlocks.flatMap((b) =>
      importedPackages(b.code)
        .filter((p) => !known.has(p))
        .map((p) => `${where(b)}: ${p}`),
    );
    expect(strays).toEqual([]);
  });

  const skipped = codeBlocks.filter((b) => !checkable.includes(b));
  if (skipped.length > 0) {
    it.skip(`${skipped.map(where).join(', ')}: need frameworks-test/node_modules (npm run test:frameworks)`, () => {});
  }

  describe.each(checkable.map((b) => [`${where(b)} ${b.lang}${b.flags.length ? ' ' + b.flags.join(' ') : ''}`, b]))(
    '%s',
    (_name, b) => {
      const block = b as Block;
      it('type-checks against the built package', () => {
        expect(diagnostics.get(fileName(block)) ?? []).toEqual([]);
      });
      if (!block.flags.includes('no-run')) {
        it(
          'runs offline and exits 0 in time',
          async () => {
            const file = join(scratch, fileName(block));
            const result = isJs(block)
              ? await run(process.execPath, [file], scratch)
              : await run(join(ROOT, 'node_modules', '.bin', 'tsx'), [file], scratch);
            const detail = `${where(block)}: exit ${result.code}${result.timedOut ? ` (killed after ${RUN_TIMEOUT_MS} ms: it hangs)` : ''}\n${result.stderr.slice(-3000)}`;
            expect({ ok: result.code === 0 && !result.timedOut, detail }).toEqual({ ok: true, detail });
          },
          RUN_TIMEOUT_MS + 10_000,
        );
      }
    },
  );

  const jsonBlocks = blocks.filter((b) => b.lang === 'json');
  if (jsonBlocks.length > 0) {
    it.each(jsonBlocks.map((b) => [where(b), b]))('%s json parses', (_name, b) => {
      expect(() => JSON.parse((b as Block).code)).not.toThrow();
    });
  }

  describe('shell blocks', () => {
    const sh = blocks.filter((b) => SH_LANGS.has(b.lang)).map((b) => ({ b, ...shellCommands(b.code) }));

    it('name only scripts of package.json', () => {
      const missing = sh.flatMap(({ b, scripts }) =>
        scripts.filter((s) => rootPkg.scripts[s] === undefined).map((s) => `${where(b)}: npm run ${s}`),
      );
      expect(missing).toEqual([]);
    });

    it('name only commands of the built alm-otel CLI', () => {
      const cli = join(ROOT, 'dist', 'cli', 'index.cjs');
      const commands = [...new Set(sh.flatMap(({ cliCommands }) => cliCommands))];
      const broken = commands.filter((c) => {
        try {
          execFileSync(process.execPath, [cli, c, '--help'], { stdio: 'ignore', timeout: 10_000 });
          return false;
        } catch {
          return true;
        }
      });
      expect(broken).toEqual([]);
    });

    it('install only packages the project depends on or tests against', () => {
      const known = new Set([
        'alm-otel',
        ...Object.keys(rootPkg.devDependencies ?? {}),
        ...Object.keys(rootPkg.peerDependencies ?? {}),
        ...Object.keys(frameworksPkg.dependencies),
      ]);
      const strays = sh.flatMap(({ b, installs }) =>
        installs
          .map(packageName)
          .filter((p) => !known.has(p))
          .map((p) => `${where(b)}: ${p}`),
      );
      expect(strays).toEqual([]);
    });
  });
});

describe('docs: the README quickstart, pasted into a fresh project', () => {
  const readme = blocks.filter((b) => b.file === 'README.md');
  const quickstart = readme.find((b) => b.flags.includes('quickstart'));
  const shown = readme.find((b) => b.flags.includes('quickstart-output'));
  let dir: string;

  afterAll(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('is in the README, with the output it shows', () => {
    expect(quickstart?.lang).toBe('js');
    expect(shown).toBeDefined();
  });

  it('runs offline with the packed tarball and exits within a few seconds', async () => {
    dir = mkdtempSync(join(tmpdir(), 'alm-otel-quickstart-'));
    const app = join(dir, 'app');
    mkdirSync(app);
    // dist/ is built by jest's globalSetup; --ignore-scripts skips prepack's second build.
    const tarball = (await exec('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], ROOT))
      .trim()
      .split('\n')
      .pop()!;
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
    const api = `@opentelemetry/api@${rootPkg.devDependencies!['@opentelemetry/api']}`;
    await exec('npm', ['install', '--offline', '--no-audit', '--no-fund', join(dir, tarball), api], app);
    const name = /^\/\/\s*(\S+\.m?js)/.exec(quickstart!.code)?.[1] ?? 'agent.mjs';
    writeFileSync(join(app, name), quickstart!.code);

    const agent = await run(process.execPath, [name], app, 10_000);
    expect({ code: agent.code, stderr: agent.stderr }).toEqual({ code: 0, stderr: '' });
    expect(agent.ms).toBeLessThan(5_000);
    const tree = await run(join(app, 'node_modules', '.bin', 'alm-otel'), ['tree', 'events.jsonl'], app);
    expect(tree.code).toBe(0);

    // What the README shows is what it prints, ids and durations aside.
    expect(normalOutput(agent.stdout + tree.stdout)).toBe(normalOutput(shown!.code));
  }, 300_000);
});

describe('docs/api.md', () => {
  it('lists every option of new ALM(options) in its table, and nothing else', () => {
    const api = readFileSync(join(ROOT, 'docs', 'api.md'), 'utf8');
    const section = api.slice(api.indexOf('## `new ALM(options)`'), api.indexOf('## Methods and properties'));
    const listed = new Set([...section.matchAll(/^\| `([\w.]+)` \|/gm)].map((m) => m[1]!));
    const options = [
      ...Object.keys(ALMConfigSchema.shape).filter((k) => !['policy', 'events', 'capture'].includes(k)),
      ...Object.keys(CaptureConfigSchema.shape).map((k) => `capture.${k}`),
      ...Object.keys(PolicyConfigSchema.shape).map((k) => `policy.${k}`),
      ...Object.keys(EventsConfigSchema.shape).map((k) => `events.${k}`),
    ];
    expect(options.filter((o) => !listed.has(o))).toEqual([]);
    expect([...listed].filter((o) => !options.includes(o))).toEqual([]);
  });
});

describe('docs: links', () => {
  it('point to files and headings that exist', () => {
    const broken: string[] = [];
    for (const file of markdownFiles(ROOT)) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      for (const { line, target } of relativeLinks(text)) {
        const [path = '', anchor] = target.split('#');
        const to = path === '' ? join(ROOT, file) : join(ROOT, dirname(file), path);
        if (!existsSync(to)) broken.push(`${file}:${line}: ${target} (no such file)`);
        else if (anchor !== undefined && to.endsWith('.md') && !anchors(readFileSync(to, 'utf8')).has(anchor)) {
          broken.push(`${file}:${line}: ${target} (no heading #${anchor} in ${relative(ROOT, to)})`);
        }
      }
    }
    expect(broken).toEqual([]);
  });
});
