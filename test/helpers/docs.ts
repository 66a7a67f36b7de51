/**
 * The code blocks of the project's Markdown (README.md and docs/**), for test/docs.test.ts: every fenced
 * block with its language, its flags (the words after the language, e.g. ```ts no-run) and where it is.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export interface Block {
  /** The Markdown file, relative to the repository root. */
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The language word of the fence, lower-cased ('' when none). */
  lang: string;
  /** The words after the language: `no-run`, `quickstart`, … */
  flags: string[];
  /** The block's text, dedented by the fence's indentation. */
  code: string;
}

/** README.md and every .md under docs/, in a stable order. */
export function markdownFiles(root: string): string[] {
  const files = [join(root, 'README.md')];
  const walk = (dir: string): void => {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.md')) files.push(path);
    }
  };
  walk(join(root, 'docs'));
  return files.map((f) => relative(root, f));
}

/** The fenced blocks of one Markdown text (``` or ~~~ fences, indented or not). */
export function extractBlocks(file: string, text: string): Block[] {
  const blocks: Block[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*(.*)$/.exec(lines[i]!);
    if (open === null) continue;
    const [, indent, fence, info] = open as unknown as [string, string, string, string];
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const close = /^(\s*)(`{3,}|~{3,})\s*$/.exec(lines[j]!);
      if (close !== null && close[2]!.startsWith(fence[0]!) && close[2]!.length >= fence.length) break;
      body.push(lines[j]!.startsWith(indent) ? lines[j]!.slice(indent.length) : lines[j]!.trimStart());
    }
    if (j === lines.length) throw new Error(`${file}:${i + 1}: code fence never closed`);
    const [lang = '', ...flags] = info.trim().split(/\s+/).filter(Boolean);
    blocks.push({ file, line: i + 1, lang: lang.toLowerCase(), flags, code: body.join('\n') + '\n' });
    i = j;
  }
  return blocks;
}

export function allBlocks(root: string): Block[] {
  return markdownFiles(root).flatMap((f) => extractBlocks(f, readFileSync(join(root, f), 'utf8')));
}

/** The packages a module imports by bare name (`@scope/name` or `name`; `node:` built-ins left out). */
export function importedPackages(code: string): string[] {
  const names = new Set<string>();
  const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)['"]([^'"]+)['"]/g;
  for (const m of code.matchAll(pattern)) {
    const spec = m[1]!;
    if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:')) continue;
    const parts = spec.split('/');
    names.add(spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!);
  }
  return [...names];
}

/**
 * The commands of a shell block that the docs test can hold to the project: `npm run <script>`,
 * `alm-otel <command>` (also as `npx alm-otel` and `npm run alm-otel -- <command>`), and the packages of
 * `npm install` / `npm i`. Comments and everything else are ignored.
 */
export function shellCommands(code: string): {
  scripts: string[];
  cliCommands: string[];
  installs: string[];
} {
  const scripts: string[] = [];
  const cliCommands: string[] = [];
  const installs: string[] = [];
  for (const raw of code.split('\n')) {
    const line = raw.replace(/(^|\s)#.*$/, '').replace(/^\$\s+/, '');
    for (const segment of line.split(/\|\||&&|\||;/)) {
      const words = segment
        .trim()
        .split(/\s+/)
        .filter((w) => w !== '' && !/^\d?>/.test(w));
      const cut = words.findIndex((w) => w.startsWith('>') || w.startsWith('<'));
      const argv = cut === -1 ? words : words.slice(0, cut);
      if (argv[0] === 'npm' && argv[1] === 'run') {
        const rest = argv.slice(2).filter((w) => !w.startsWith('-') || w === '--');
        const script = rest[0];
        if (script !== undefined && script !== '--') scripts.push(script);
        if (script === 'alm-otel') {
          const dashes = rest.indexOf('--');
          const command = dashes === -1 ? undefined : rest[dashes + 1];
          if (command !== undefined) cliCommands.push(command);
        }
      } else if (argv[0] === 'npm' && ['install', 'i', 'add'].includes(argv[1] ?? '')) {
        installs.push(...argv.slice(2).filter((w) => !w.startsWith('-')));
      } else {
        const at = argv[0] === 'npx' ? 1 : 0;
        if (argv[at] === 'alm-otel' && argv[at + 1] !== undefined && !argv[at + 1]!.startsWith('-')) {
          cliCommands.push(argv[at + 1]!);
        }
      }
    }
  }
  return { scripts, cliCommands, installs };
}

/** A package spec of `npm install` without its version: `@scope/name@1` → `@scope/name`. */
export function packageName(spec: string): string {
  const at = spec.indexOf('@', 1);
  return at === -1 ? spec : spec.slice(0, at);
}

/** Program output with what changes from run to run (run ids, trace ids, durations) replaced, to compare. */
export function normalOutput(text: string): string {
  return text
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>')
    .replace(/\b[0-9a-f]{32}\b/g, '<trace_id>')
    .replace(/\b\d+(\.\d+)? (ms|s)\b/g, '<ms>')
    .trim();
}

/** A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces to hyphens. */
export function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The anchors of a Markdown text's headings (outside code blocks), numbered on repeats as GitHub does. */
export function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  let fence = false;
  for (const line of text.split('\n')) {
    if (/^\s*(`{3,}|~{3,})/.test(line)) fence = !fence;
    const m = fence ? null : /^#{1,6}\s+(.*)$/.exec(line);
    if (m === null) continue;
    const base = anchorOf(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** The relative links of a Markdown text, outside code blocks and inline code: `[text](target)`. */
export function relativeLinks(text: string): { line: number; target: string }[] {
  const links: { line: number; target: string }[] = [];
  let fence = false;
  text.split('\n').forEach((line, i) => {
    if (/^\s*(`{3,}|~{3,})/.test(line)) fence = !fence;
    if (fence) return;
    for (const m of line.replace(/`[^`]*`/g, '').matchAll(/\]\(([^)\s]+)\)/g)) {
      if (!/^[a-z]+:/i.test(m[1]!)) links.push({ line: i + 1, target: m[1]! });
    }
  });
  return links;
}
