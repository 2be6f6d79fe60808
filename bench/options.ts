import path from 'node:path';
import { PROJECT_ROOT } from '../src/local/tools';
import { DEFAULT_MAX_CACHED_WORKFLOWS } from '../src/worker/cache-budget';
import { SDK_DEFAULT_ACTIVITIES, SDK_DEFAULT_WORKFLOW_TASKS, type WorkerTuning } from '../src/worker/create-worker';
import type { TuningValue } from './report';

/** `--name value` or `--name=value` from argv, else the environment variable, else undefined. */
export function arg(argv: readonly string[], name: string, envName: string): string | undefined {
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i]!;
    if (a === `--${name}`) return argv[i + 1];
    if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3);
  }
  const v = process.env[envName];
  return v === undefined || v === '' ? undefined : v;
}

export function intArg(argv: readonly string[], name: string, envName: string, fallback: number, min = 0): number {
  const raw = arg(argv, name, envName);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} / ${envName} must be an integer >= ${min} (got "${raw}")`);
  return n;
}

/** Each worker setting, the variable the production worker reads it from (src/config/env.ts), and its minimum. */
export const TUNING_ENV: Record<keyof WorkerTuning, { name: string; min: number }> = {
  maxCachedWorkflows: { name: 'WORKER_MAX_CACHED_WORKFLOWS', min: 0 },
  maxConcurrentActivityTaskExecutions: { name: 'WORKER_MAX_CONCURRENT_ACTIVITIES', min: 1 },
  maxConcurrentWorkflowTaskExecutions: { name: 'WORKER_MAX_CONCURRENT_WORKFLOW_TASKS', min: 2 },
  maxConcurrentWorkflowTaskPolls: { name: 'WORKER_MAX_WORKFLOW_TASK_POLLS', min: 2 },
  maxConcurrentActivityTaskPolls: { name: 'WORKER_MAX_ACTIVITY_TASK_POLLS', min: 1 },
};

/** Worker settings from the WORKER_MAX_* variables, checked as the production worker checks them. */
export function tuningFromEnv(env: NodeJS.ProcessEnv = process.env): WorkerTuning {
  const tuning: WorkerTuning = {};
  for (const [key, { name, min }] of Object.entries(TUNING_ENV) as [keyof WorkerTuning, { name: string; min: number }][]) {
    const raw = env[name];
    if (raw === undefined) continue;
    // As src/config/env.ts reads them: decimal digits only, so an empty value is not 0.
    const n = /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min} (an empty value is not unset)`);
    tuning[key] = n;
  }
  return tuning;
}

/** The variables that give a worker process these settings. */
export function tuningToEnv(tuning: WorkerTuning): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(tuning) as [keyof WorkerTuning, number | undefined][]) {
    if (value !== undefined) env[TUNING_ENV[key].name] = String(value);
  }
  return env;
}

/** The values a worker runs with: the ones set, else the service's cache default and the SDK 1.x defaults for the rest. */
export function effectiveTuning(t: WorkerTuning): {
  maxCachedWorkflows: TuningValue;
  maxConcurrentActivityTaskExecutions: TuningValue;
  maxConcurrentWorkflowTaskExecutions: TuningValue;
  maxConcurrentWorkflowTaskPolls: TuningValue;
  maxConcurrentActivityTaskPolls: TuningValue;
} {
  const v = (value: number | undefined, fallback: number): TuningValue =>
    value === undefined ? { value: fallback, source: 'SDK default' } : { value, source: 'env' };
  const activities = t.maxConcurrentActivityTaskExecutions ?? SDK_DEFAULT_ACTIVITIES;
  const workflowTasks = t.maxConcurrentWorkflowTaskExecutions ?? SDK_DEFAULT_WORKFLOW_TASKS;
  // The poll limits in force: capped by the executions (sdkTuning), as the SDK caps its default.
  const capped = (n: number | undefined, max: number) => (n === undefined ? undefined : Math.min(n, max));
  return {
    maxCachedWorkflows:
      t.maxCachedWorkflows === undefined
        ? { value: DEFAULT_MAX_CACHED_WORKFLOWS, source: 'service default' }
        : { value: t.maxCachedWorkflows, source: 'env' },
    maxConcurrentActivityTaskExecutions: v(t.maxConcurrentActivityTaskExecutions, activities),
    maxConcurrentWorkflowTaskExecutions: v(t.maxConcurrentWorkflowTaskExecutions, workflowTasks),
    maxConcurrentWorkflowTaskPolls: v(capped(t.maxConcurrentWorkflowTaskPolls, workflowTasks), Math.min(10, workflowTasks)),
    maxConcurrentActivityTaskPolls: v(capped(t.maxConcurrentActivityTaskPolls, activities), Math.min(10, activities)),
  };
}

export const DEFAULT_RESULTS_DIR = path.join(PROJECT_ROOT, 'bench', 'results');
