/**
 * Fleet budgets against a real redis-server on loopback (started here on a free port): the decision
 * latency of one tool call under a shared budget (p50 / p99, one process, calls one after another), and
 * the tool calls per second four processes sustain against one shared tenant budget. Needs `redis-server`
 * on PATH and the build (`npm run build`). Run: node bench/fleet.bench.mjs
 */
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { ALM } = require(join(root, 'dist', 'index.cjs'));

const freePort = () =>
  new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

async function withRedis(fn) {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  for (let i = 0; i < 100; i++) {
    if (
      spawnSync('redis-cli', ['-p', String(port), 'ping'])
        .stdout?.toString()
        .includes('PONG')
    )
      break;
    await new Promise((r) => setTimeout(r, 50));
  }
  try {
    return await fn(`redis://127.0.0.1:${port}`);
  } finally {
    child.kill('SIGKILL');
  }
}

const WORKER = `
const { ALM } = require(${JSON.stringify(join(root, 'dist', 'index.cjs'))});
const [url, prefix, ms] = process.argv.slice(1);
const alm = new ALM({ agentId: 'bench', events: { sink: 'none' }, policy: {
  budgets: [{ scope: 'tenant', maxToolCalls: 1e12 }], store: { redis: url, keyPrefix: prefix, timeoutMs: 5000 } } });
const tool = alm.tool('t', async () => 1);
(async () => {
  let n = 0;
  await alm.run({ labels: { tenant: 'acme' } }, async () => {
    await tool();
    const end = Date.now() + Number(ms);
    while (Date.now() < end) { await Promise.all(Array.from({ length: 16 }, () => tool())); n += 16; }
  });
  await alm.shutdown();
  console.log(n);
})();`;

await withRedis(async (url) => {
  const alm = new ALM({
    agentId: 'bench',
    events: { sink: 'none' },
    policy: {
      budgets: [{ scope: 'tenant', maxToolCalls: 1e12 }],
      store: { redis: url, keyPrefix: 'lat', timeoutMs: 5000 },
    },
  });
  const tool = alm.tool('t', async () => 1);
  const times = [];
  await alm.run({ labels: { tenant: 'acme' } }, async () => {
    for (let i = 0; i < 200; i++) await tool(); // warm up
    for (let i = 0; i < 3000; i++) {
      const t = process.hrtime.bigint();
      await tool();
      times.push(Number(process.hrtime.bigint() - t) / 1000);
    }
  });
  await alm.shutdown();
  times.sort((a, b) => a - b);
  const q = (p) => times[Math.floor((times.length - 1) * p)].toFixed(0);
  console.log(`shared budget (Redis on loopback), one tool call decided and run: p50 ${q(0.5)} µs, p99 ${q(0.99)} µs`);

  const memory = new ALM({
    agentId: 'bench',
    events: { sink: 'none' },
    policy: { budgets: [{ scope: 'tenant', maxToolCalls: 1e12 }] },
  });
  const local = memory.tool('t', async () => 1);
  const start = process.hrtime.bigint();
  await memory.run({ labels: { tenant: 'acme' } }, async () => {
    for (let i = 0; i < 20000; i++) await local();
  });
  console.log(
    `in-memory store, same budget: ${(Number(process.hrtime.bigint() - start) / 1000 / 20000).toFixed(2)} µs per call`,
  );
  await memory.shutdown();

  const ms = 3000;
  const counts = await Promise.all(
    [0, 1, 2, 3].map(
      () =>
        new Promise((resolve) => {
          const child = spawn(process.execPath, ['-e', WORKER, url, 'tput', String(ms)], {
            stdio: ['ignore', 'pipe', 'inherit'],
          });
          let out = '';
          child.stdout.on('data', (d) => (out += d));
          child.on('close', () => resolve(Number(out.trim())));
        }),
    ),
  );
  const total = counts.reduce((a, b) => a + b, 0);
  console.log(
    `4 processes, one shared tenant budget: ${Math.round(total / (ms / 1000))} tool calls/s (${counts.join(' + ')} in ${ms} ms)`,
  );
});
