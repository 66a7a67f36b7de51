/** The README's options table lists every option the schema has (and nothing it does not). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALMConfigSchema, CaptureConfigSchema, EventsConfigSchema, PolicyConfigSchema } from '../src/config/schema';

const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
const section = readme.slice(readme.indexOf('### `new ALM(options)`'), readme.indexOf('### Methods and properties'));
const listed = new Set([...section.matchAll(/^\| `([\w.]+)` \|/gm)].map((m) => m[1]!));

const options = [
  ...Object.keys(ALMConfigSchema.shape).filter((k) => !['policy', 'events', 'capture'].includes(k)),
  ...Object.keys(CaptureConfigSchema.shape).map((k) => `capture.${k}`),
  ...Object.keys(PolicyConfigSchema.shape).map((k) => `policy.${k}`),
  ...Object.keys(EventsConfigSchema.shape).map((k) => `events.${k}`),
];

test('README options table lists every option', () => {
  expect(options.filter((o) => !listed.has(o))).toEqual([]);
  expect([...listed].filter((o) => !options.includes(o))).toEqual([]);
});
