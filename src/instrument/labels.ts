/** Run labels (`alm.run({ labels })`): what names and values are accepted, checked once per run. */

/** A label's name: what a budget's `scope` can name. */
export const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
export const MAX_LABELS = 16;
export const MAX_LABEL_VALUE = 256;

/** What is wrong with one label, or undefined when it is accepted. */
function labelProblem(name: string, value: unknown): string | undefined {
  if (!LABEL_NAME.test(name)) {
    return `label name '${name.slice(0, 64)}' must be letters, digits, _ . - (a letter or _ first)`;
  }
  if (name === 'run' || name === 'agent') return `'${name}' is a budget scope, not a label name`;
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_LABEL_VALUE) {
    return `labels.${name} must be a non-empty string of at most ${MAX_LABEL_VALUE} characters`;
  }
  return undefined;
}

/** The labels as given, checked: a TypeError names what is wrong. */
export function checkLabels(labels: unknown): Readonly<Record<string, string>> | undefined {
  if (labels === undefined) return undefined;
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) {
    throw new TypeError('alm.run: labels must be an object of label names to string values');
  }
  const names = Object.keys(labels);
  if (names.length > MAX_LABELS) throw new TypeError(`alm.run: at most ${MAX_LABELS} labels, got ${names.length}`);
  const out: Record<string, string> = {};
  for (const name of names) {
    const value = (labels as Record<string, unknown>)[name];
    const problem = labelProblem(name, value);
    if (problem !== undefined) throw new TypeError(`alm.run: ${problem}`);
    out[name] = value as string;
  }
  return names.length === 0 ? undefined : out;
}

/** Labels from another process: those alm.run would accept, at most as many; undefined when none. */
export function acceptedLabels(labels: Record<string, string>): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  let n = 0;
  for (const [name, value] of Object.entries(labels)) {
    if (n >= MAX_LABELS || labelProblem(name, value) !== undefined) continue;
    (out ??= {})[name] = value;
    n++;
  }
  return out;
}
