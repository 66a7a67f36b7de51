/** What package.json promises agrees with what is tested and with what the README and LICENSE say. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './helpers/scripts';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  license: string;
  engines: { node: string };
};

test('engines.node starts at the oldest Node line npm run test:consumers runs', () => {
  const consumers = readFileSync(join(ROOT, 'consumers', 'run.mjs'), 'utf8');
  const lines = /const NODE = \{([^}]*)\}/.exec(consumers)![1]!;
  const majors = [...lines.matchAll(/(\d+):/g)].map((m) => Number(m[1]));
  expect(pkg.engines.node).toBe(`>=${Math.min(...majors)}`);
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  expect(readme).toContain(`Node.js ${Math.min(...majors)} or newer`);
});

test('LICENSE is the license package.json names', () => {
  const license = readFileSync(join(ROOT, 'LICENSE'), 'utf8');
  expect(pkg.license).toBe('MIT');
  expect(license).toMatch(/^MIT License\n\nCopyright \(c\) \d{4} alm-otel contributors\n/);
});
