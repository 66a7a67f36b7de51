/**
 * Delivering what is queued when the process ends. Node gives no chance on its own: timers are
 * unref'd (alm-otel never keeps a process alive), and SIGTERM / SIGINT kill the process at once.
 * So, while any pipeline watches:
 *  - beforeExit (the event loop drained, the script is done): every pipeline shuts down, delivering
 *    what is queued with retries up to its shutdownTimeoutMs;
 *  - SIGTERM / SIGINT: the same; then, if no other listener handles the signal, it is raised again
 *    so the process still ends by it. With handlers of its own, the application decides when to
 *    exit, and should `await alm.shutdown()` first.
 */
type Shutdown = () => Promise<void>;

const watchers = new Set<Shutdown>();
const SIGNALS = ['SIGTERM', 'SIGINT'] as const;
let installed = false;

function shutdownAll(): Promise<unknown> {
  return Promise.allSettled([...watchers].map((shutdown) => shutdown()));
}

const onBeforeExit = () => void shutdownAll();

function onSignal(signal: NodeJS.Signals): void {
  uninstall();
  void shutdownAll().then(() => {
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  });
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('beforeExit', onBeforeExit);
  for (const signal of SIGNALS) process.on(signal, onSignal);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  process.off('beforeExit', onBeforeExit);
  for (const signal of SIGNALS) process.off(signal, onSignal);
}

/** Have `shutdown` run when the process ends; returns the function that stops watching. */
export function watchProcessExit(shutdown: Shutdown): () => void {
  watchers.add(shutdown);
  install();
  return () => {
    watchers.delete(shutdown);
    if (watchers.size === 0) uninstall();
  };
}
