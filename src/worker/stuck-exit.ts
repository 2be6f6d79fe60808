import type { Logger } from '../logging/logger';

/** After the grace, how long the drain and the closes may still take before the process exits all the same. */
export const STUCK_EXIT_MARGIN_MS = 30_000;

/**
 * The watchdog found the worker's store client stuck: drain the worker (its running activities get `graceMs`), and
 * exit 1 if the process has not stopped by the grace plus STUCK_EXIT_MARGIN_MS. An activity waiting on the stuck
 * client never returns, and closing that client waits for it: without the deadline the process stays up, no longer
 * polling, and a supervisor restarting failed processes never replaces it.
 */
export function stopWhenStuck(
  worker: { getState(): string; shutdown(): void },
  opts: { graceMs: number; logger: Logger; marginMs?: number; exit?: (code: number) => void },
): void {
  if (worker.getState() === 'RUNNING') worker.shutdown();
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const after = opts.graceMs + (opts.marginMs ?? STUCK_EXIT_MARGIN_MS);
  // Unref'd: it never keeps a process up that stops by itself; it fires in one that hangs on other handles.
  setTimeout(() => {
    opts.logger.error({ afterMs: after }, 'worker did not stop after its store client got stuck: exiting');
    exit(1);
  }, after).unref();
}
