/**
 * What shut-down ALM instances cost the rest of the process: 100k unrelated awaits, timed before any
 * instance exists and again after 100 instances were created, used and shut down. On Node's
 * async_hooks-based AsyncLocalStorage (Node 20, 22) every enabled storage taxes every promise; a
 * shut-down instance must leave none enabled, even when a tool attempt it abandoned never settles.
 */
import { ALM } from '../src';

const AWAITS = 100_000;
const INSTANCES = 100;
const REPEATS = 7;

async function awaits(): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < AWAITS; i++) await Promise.resolve(i);
  return performance.now() - start;
}

async function medianOfAwaits(): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < REPEATS; i++) times.push(await awaits());
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

async function main(): Promise<void> {
  await awaits(); // warm-up
  const before = await medianOfAwaits();
  for (let i = 0; i < INSTANCES; i++) {
    const alm = new ALM({ agentId: `bench-${i}`, events: { sink: 'none' } });
    const tool = alm.tool('t', async () => i);
    // A tool attempt that times out and never settles: abandoned, it must not keep the scope enabled.
    const hang = alm.tool('hang', () => new Promise<never>(() => {}), { timeoutMs: 1 });
    await alm.run(async () => {
      await tool();
      await hang().catch(() => undefined);
    });
    await alm.shutdown();
  }
  const after = await medianOfAwaits();
  console.log(`${AWAITS / 1000}k unrelated awaits, median of ${REPEATS} (node ${process.version})`);
  console.log(`  before any instance                    ${before.toFixed(1)} ms`);
  console.log(`  after ${INSTANCES} instances created, used, shut down ${after.toFixed(1)} ms`);
  console.log(`ratio after / before: ${(after / before).toFixed(2)}x (shut-down instances should cost nothing: ~1x)`);
}

void main();
