import type { WorkerTuning } from '../../src/worker/create-worker';
import { DEFAULT_RESULTS_DIR, arg, intArg, tuningFromEnv } from '../options';
import type { FaultPlan } from './faults';

export interface SoakOptions {
  /** Installations driven through their plans (M). */
  installations: number;
  /** Installations in progress at once, at most. */
  inFlight: number;
  /** A new installation arrives every this many ms (while fewer than inFlight are in progress). */
  arrivalMs: number;
  faults: FaultPlan;
  /** Talkdesk chaos at the simulator. */
  chaos: { p500: number; p429: number; retryAfterSeconds: number; pHang: number };
  /**
   * The reconciliation schedule runs every this many ms during the drive, as a deployment's
   * does every 15 minutes (bench/soak/reconciliation.ts); 0: no reconciliation.
   */
  reconcileEveryMs: number;
  /** The worker's Talkdesk request timeout; hung calls answer after this plus a second. */
  talkdeskTimeoutMs: number;
  /** Hard bound of the whole run, checks included. */
  deadlineMs: number;
  /** Time kept for the end checks within the deadline. */
  checksReserveMs: number;
  tuning: WorkerTuning;
  stateDir?: string;
  /** Where soak.json goes (none when undefined). */
  resultsDir?: string;
  print?: boolean;
}

export const SOAK_DEFAULTS = {
  installations: 1_000,
  inFlight: 60,
  arrivalMs: 500,
  workerProcesses: 2,
  deadlineMinutes: 90,
  reconcileEverySeconds: 120,
} as const;

/** Options from --installations --in-flight --workers --deadline-minutes --reconcile-every-seconds --seed or SOAK_* variables. */
export function soakOptionsFrom(argv: readonly string[]): SoakOptions {
  const installations = intArg(argv, 'installations', 'SOAK_INSTALLATIONS', SOAK_DEFAULTS.installations, 1);
  const talkdeskTimeoutMs = intArg(argv, 'talkdesk-timeout-ms', 'SOAK_TALKDESK_TIMEOUT_MS', 2_000, 100);
  return {
    installations,
    inFlight: intArg(argv, 'in-flight', 'SOAK_IN_FLIGHT', SOAK_DEFAULTS.inFlight, 1),
    arrivalMs: intArg(argv, 'arrival-ms', 'SOAK_ARRIVAL_MS', SOAK_DEFAULTS.arrivalMs, 0),
    faults: {
      workerProcesses: intArg(argv, 'workers', 'SOAK_WORKERS', SOAK_DEFAULTS.workerProcesses, 1),
      killEveryMs: [
        intArg(argv, 'kill-min-ms', 'SOAK_KILL_MIN_MS', 3_000, 100),
        intArg(argv, 'kill-max-ms', 'SOAK_KILL_MAX_MS', 6_000, 100),
      ],
      maxKills: intArg(argv, 'max-kills', 'SOAK_MAX_KILLS', 1_000, 0),
      mongoRestartAt: 0.3,
      temporalRestartAt: 0.6,
      downMs: 2_000,
      seed: intArg(argv, 'seed', 'SOAK_SEED', Date.now() % 1_000_000, 0),
    },
    chaos: { p500: 0.1, p429: 0.05, retryAfterSeconds: 1, pHang: 0.02 },
    reconcileEveryMs:
      intArg(argv, 'reconcile-every-seconds', 'SOAK_RECONCILE_EVERY_SECONDS', SOAK_DEFAULTS.reconcileEverySeconds, 0) * 1_000,
    talkdeskTimeoutMs,
    deadlineMs: intArg(argv, 'deadline-minutes', 'SOAK_DEADLINE_MINUTES', SOAK_DEFAULTS.deadlineMinutes, 1) * 60_000,
    checksReserveMs: 5 * 60_000,
    tuning: tuningFromEnv(),
    stateDir: arg(argv, 'state-dir', 'BENCH_STATE_DIR'),
    resultsDir: arg(argv, 'results', 'SOAK_RESULTS_DIR') ?? DEFAULT_RESULTS_DIR,
  };
}
