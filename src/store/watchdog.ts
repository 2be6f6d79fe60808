import type { Logger } from '../logging/logger';

export interface StoreWatchdogOptions {
  /** A command through the process's own store client (the one every activity uses). */
  ping(): Promise<void>;
  /** The same command through a brand-new client, closed afterwards. */
  pingFresh(): Promise<void>;
  /** How long the process's client may keep failing before a fresh client is asked. */
  stuckAfterMs: number;
  /** Time between pings. */
  everyMs: number;
  /** A ping not answered within this counts as failed (a half-open connection never answers). Default min(10 s, stuckAfterMs). */
  pingTimeoutMs?: number;
  logger: Logger;
  /**
   * Closes the process's client and connects it again, in place (its collections keep working). Given,
   * the first verdict of a failing streak reconnects; the streak ends when the client answers again.
   */
  reconnect?(): Promise<void>;
  /**
   * The process's client is stuck while the store answers others, and (with `reconnect`) a reconnect
   * did not help: stop the process (its supervisor starts a new one); the watchdog stops watching.
   * Absent: every verdict reconnects (the web process, which must not stop).
   */
  onStuck?(): unknown;
}

/** The longest a reconnect (close, then connect) may take before the next round tries again. */
const RECONNECT_LIMIT_MS = 30_000;

/**
 * Watches a process's store client. Store steps are local activities run by the
 * worker that holds the workflow in its sticky cache, so a worker whose MongoDB
 * client cannot reach the store strands those workflows however long they retry;
 * a web process whose client is stuck refuses every callback. When the client has
 * failed for `stuckAfterMs` and a new client reaches the store, the process's
 * client is the problem: it is reconnected in place (`reconnect`), then, if it stays stuck,
 * the process stops (`onStuck`). When the new client fails too, the store is
 * down for everyone: keep waiting (a restart would not help, and a crash loop
 * would delay the recovery). One known cause (mongodb 6.22 against a server
 * without topologyVersion, e.g. FerretDB): the driver's monitor writes its check
 * to a socket already destroyed whose close is not yet emitted, waits for a
 * 'drain' that never comes, and ignores every later request to check: the server
 * stays unknown until the client is closed (test/callback/stuck-store-client.test.ts).
 */
export function watchStore(o: StoreWatchdogOptions): { stop(): Promise<void> } {
  if (!o.reconnect && !o.onStuck) throw new Error('watchStore needs reconnect, onStuck or both');
  const timeoutMs = o.pingTimeoutMs ?? Math.min(10_000, o.stuckAfterMs);
  const ping = () => withTimeout(o.ping(), timeoutMs);
  let failingSince: number | undefined;
  // Rounds in a row where a new client answered and this one, asked again right after, did not.
  let verdicts = 0;
  // A reconnect ran since the client last answered: the next verdict stops the process (with onStuck).
  let reconnectedInStreak = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const answered = () => {
    if (failingSince !== undefined) o.logger.info('the store answers this process again');
    failingSince = undefined;
    verdicts = 0;
    reconnectedInStreak = false;
  };

  const check = async () => {
    try {
      await ping();
      return answered();
    } catch (err) {
      failingSince ??= Date.now();
      if (Date.now() - failingSince < o.stuckAfterMs) return;
      o.logger.warn({ errorType: errorName(err), failingForMs: Date.now() - failingSince }, 'the store has not answered this process');
    }
    try {
      await withTimeout(o.pingFresh(), timeoutMs);
    } catch (err) {
      verdicts = 0;
      o.logger.warn({ errorType: errorName(err) }, 'a new store connection fails too: MongoDB looks down, this process waits for it');
      return;
    }
    // The store may have come back during the new client's ping: this client gets one more chance
    // now, and the verdict must hold for two rounds, so a recovery never stops healthy workers.
    try {
      await ping();
      return answered();
    } catch {
      verdicts += 1;
    }
    if (verdicts < 2 || stopped) return;
    if (!o.reconnect || (o.onStuck && reconnectedInStreak)) {
      stopped = true;
      o.logger.error('the store answers a new connection but not this process: stopping it so that its supervisor starts a new one');
      return void o.onStuck?.();
    }
    o.logger.error('the store answers a new connection but not this process: reconnecting its client');
    reconnectedInStreak = true;
    try {
      // Bounded: closing waits for the client's cursors, which a half-open connection never answers.
      await withTimeout(o.reconnect(), RECONNECT_LIMIT_MS);
    } catch (err) {
      // Still failing since then, one verdict held: the next round asks the new client again, then
      // stops the process (`onStuck`) or, without one, tries another reconnect.
      verdicts = 1;
      o.logger.error({ errorType: errorName(err) }, 'reconnecting the store client failed');
      return;
    }
    // The reconnected client gets stuckAfterMs before the next verdict (reconnectedInStreak holds until it answers).
    failingSince = undefined;
    verdicts = 0;
  };

  const round = () => {
    running = check().finally(() => {
      if (!stopped) timer = setTimeout(round, o.everyMs).unref();
    });
  };
  timer = setTimeout(round, o.everyMs).unref();
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      // A round in flight ends within its pings' timeouts; shutdown does not wait that long for it.
      await Promise.race([running, new Promise((r) => setTimeout(r, 1_000).unref())]);
    },
  };
}

/** Rejects when `p` has not settled within `ms` (a store call on a half-open or wedged connection never does). */
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('store call timed out'), { name: 'StoreTimeout' })), ms).unref();
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** The error's class only: a driver message can carry the connection string. */
function errorName(err: unknown): string {
  return err instanceof Error && /^[A-Za-z]{1,64}$/.test(err.name) ? err.name : 'Error';
}
