/**
 * Delivering what is queued when the process ends. Node gives no chance on its own: timers are
 * unref'd (alm-otel never keeps a process alive), and SIGTERM / SIGINT kill the process at once.
 * So, while any pipeline watches:
 *  - beforeExit (the event loop drained, the script is done): every pipeline shuts down, delivering
 *    what is queued with retries up to its shutdownTimeoutMs;
 *  - SIGTERM / SIGINT: the same; then, if no other listener handles the signal, it is raised again
 *    so the process still ends by it. With handlers of its own, the application decides when to
 *    exit, and should `await alm.shutdown()` first.
 * And, whatever the options, when the process ends without a chance to run asynchronous work
 * (`process.exit()`, an uncaught exception or unhandled rejection), every pipeline's `rescue` runs
 * synchronously: it writes what is held to the spool or to a file / stdout sink, and reports what it
 * could not keep. An uncaught exception still ends the process as it would without alm-otel
 * ('uncaughtExceptionMonitor' only watches).
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

type Rescue = () => void;
const rescuers = new Set<Rescue>();

function rescueAll(): void {
  for (const rescue of [...rescuers]) {
    try {
      rescue();
    } catch {
      // Never in the way of the process's own ending.
    }
  }
}

/** Have `rescue` run synchronously on process.exit() and on an uncaught exception; returns the function that stops watching. */
export function watchProcessEnd(rescue: Rescue): () => void {
  if (rescuers.size === 0) {
    process.on('exit', rescueAll);
    process.on('uncaughtExceptionMonitor', rescueAll);
  }
  rescuers.add(rescue);
  return () => {
    if (!rescuers.delete(rescue) || rescuers.size > 0) return;
    process.off('exit', rescueAll);
    process.off('uncaughtExceptionMonitor', rescueAll);
  };
}
