/** Tool-name patterns: exact names, or `*` globs matching any run of characters. */

function escape(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}

/** One matcher for a list of patterns; exact names are a Set lookup, globs one regular expression. */
export function compilePatterns(patterns: readonly string[]): (name: string) => boolean {
  const exact = new Set(patterns.filter((p) => !p.includes('*')));
  const globs = patterns.filter((p) => p.includes('*'));
  const regex =
    globs.length === 0
      ? undefined
      : new RegExp(`^(?:${globs.map((g) => g.split('*').map(escape).join('.*')).join('|')})$`, 's');
  return (name) => exact.has(name) || (regex !== undefined && regex.test(name));
}
