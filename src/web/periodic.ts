import type { Logger } from '../logging/logger';
import { withTimeout } from '../store/watchdog';

/** How long `stop` waits for a run under way (a sweep held by a stuck store must not hold the shutdown). */
export const PERIODIC_STOP_WAIT_MS = 10_000;

/**
 * Runs `run` at start and then every `intervalMs`, never two at once; `stop` waits for a
 * running one, up to PERIODIC_STOP_WAIT_MS. A failure is logged (by its class: the message could hold a secret) and
 * the next run comes at the usual time. Timers are unref'd: they never keep the process up.
 */
export class PeriodicTask {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = true;

  constructor(
    private readonly what: string,
    private readonly run: () => Promise<void>,
    private readonly logger: Logger,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.running = this.run()
        .catch((err: unknown) =>
          this.logger.warn({ error: err instanceof Error ? err.name : 'unknown' }, `${this.what} failed; retried later`),
        )
        .finally(() => {
          this.running = undefined;
          if (!this.stopped) this.schedule(this.intervalMs);
        });
    }, delayMs);
    this.timer.unref();
  }

  async stop(waitMs = PERIODIC_STOP_WAIT_MS): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    // `running` never rejects (a failure is logged); past `waitMs` it is left to end on its own.
    if (this.running) await withTimeout(this.running, waitMs).catch(() => undefined);
  }
}
