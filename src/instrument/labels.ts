/** Run labels (`alm.run({ labels })`): what names and values are accepted, checked once per run. */

/** A label's name: what a budget's `scope` can name. */
export const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
export const MAX_LABELS = 16;
export const MAX_LABEL_VALUE = 256;

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
    if (!LABEL_NAME.test(name)) {
      throw new TypeError(
        `alm.run: label name '${name.slice(0, 64)}' must be letters, digits, _ . - (a letter or _ first)`,
      );
    }
    if (name === 'run' || name === 'agent')
      throw new TypeError(`alm.run: '${name}' is a budget scope, not a label name`);
    if (typeof value !== 'string' || value.length === 0 || value.length > MAX_LABEL_VALUE) {
      throw new TypeError(
        `alm.run: labels.${name} must be a non-empty string of at most ${MAX_LABEL_VALUE} characters`,
      );
    }
    out[name] = value;
  }
  return names.length === 0 ? undefined : out;
}
