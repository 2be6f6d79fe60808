import path from 'node:path';
import v8 from 'node:v8';
import { PROJECT_ROOT } from '../src/local/tools';
import type { WorkerTuning } from '../src/worker/create-worker';
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

/** Worker settings from WORKER_MAX_CACHED_WORKFLOWS, WORKER_MAX_CONCURRENT_ACTIVITIES, WORKER_MAX_CONCURRENT_WORKFLOW_TASKS. */
export function tuningFromEnv(env: NodeJS.ProcessEnv = process.env): WorkerTuning {
  const read = (name: string, min: number): number | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}`);
    return n;
  };
  return {
    maxCachedWorkflows: read('WORKER_MAX_CACHED_WORKFLOWS', 0),
    maxConcurrentActivityTaskExecutions: read('WORKER_MAX_CONCURRENT_ACTIVITIES', 1),
    maxConcurrentWorkflowTaskExecutions: read('WORKER_MAX_CONCURRENT_WORKFLOW_TASKS', 2),
  };
}

/** The values a worker runs with: the ones set, else the SDK 1.x defaults (cache from the V8 heap limit). */
export function effectiveTuning(t: WorkerTuning): {
  maxCachedWorkflows: TuningValue;
  maxConcurrentActivityTaskExecutions: TuningValue;
  maxConcurrentWorkflowTaskExecutions: TuningValue;
} {
  const heapMiB = v8.getHeapStatistics().heap_size_limit / 2 ** 20;
  const cacheDefault = Math.max(Math.floor((Math.max(heapMiB - 200, 0) * 600) / 1024), 10);
  const v = (value: number | undefined, fallback: number): TuningValue =>
    value === undefined ? { value: fallback, source: 'SDK default' } : { value, source: 'env' };
  return {
    maxCachedWorkflows: v(t.maxCachedWorkflows, cacheDefault),
    maxConcurrentActivityTaskExecutions: v(t.maxConcurrentActivityTaskExecutions, 100),
    maxConcurrentWorkflowTaskExecutions: v(t.maxConcurrentWorkflowTaskExecutions, 40),
  };
}

export const DEFAULT_RESULTS_DIR = path.join(PROJECT_ROOT, 'bench', 'results');
