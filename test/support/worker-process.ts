import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EMBEDDED_TEMPORAL_BLANKS, writeLocalTemporalProfile } from '../../src/local/servers-only';
import { PROJECT_ROOT } from '../../src/local/tools';
import { WORKER_HEAP_FLAG } from '../../src/worker/cache-budget';
import { useSystem, type TestSystem } from './system';

export interface WorkerProcess {
  child: ChildProcess;
  output(): string;
  /** SIGKILL: the worker dies mid-activity, as a crashed pod would. */
  kill(): Promise<void>;
}

/** Runs the production worker entry point (`dist/src/entry/worker.js`) as a real process. */
export async function startWorkerProcess(env: Record<string, string>, timeoutMs = 30_000): Promise<WorkerProcess> {
  // As production starts it (package.json start:worker): each V8 heap capped.
  // The machine's own Temporal settings (a cloud account's profile, API key or TLS in the shell) are not the test's:
  // blanked, and a profile of the test's server alone, as npm start does for its embedded one (src/entry/local.ts).
  const profileDir = mkdtempSync(path.join(os.tmpdir(), 'worker-profile-'));
  const machine = Object.fromEntries(EMBEDDED_TEMPORAL_BLANKS.map((name) => [name, '']));
  const profile = writeLocalTemporalProfile(profileDir, env.TEMPORAL_ADDRESS ?? '', env.TEMPORAL_NAMESPACE ?? 'default');
  const child = spawn(process.execPath, [WORKER_HEAP_FLAG, path.join(PROJECT_ROOT, 'dist/src/entry/worker.js')], {
    env: { ...process.env, ...machine, TEMPORAL_CONFIG_FILE: profile, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.once('exit', () => rmSync(profileDir, { recursive: true, force: true }));
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + timeoutMs;
  while (!out.includes('worker running')) {
    if (child.exitCode !== null) throw new Error(`worker process exited (${child.exitCode}):\n${out}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`worker process did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    output: () => out,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * The suite hooks for a system that runs no worker in process: a test starts the production worker
 * as a process with the returned function (extra variables over the system's), and it is killed
 * before the system closes.
 */
export function useSystemWithWorkerProcess(use: (sys: TestSystem) => void): (extraEnv?: Record<string, string>) => Promise<WorkerProcess> {
  let sys: TestSystem | undefined;
  // Every one started, not the last: a test that leaves its worker running must not leave it polling past the suite.
  const workers: WorkerProcess[] = [];
  useSystem(
    (s) => {
      sys = s;
      use(s);
    },
    { inProcessWorker: false },
    async () => void (await Promise.all(workers.splice(0).map((w) => w.kill()))),
  );
  return async (extraEnv = {}) => {
    if (!sys) throw new Error('the system did not start');
    const worker = await startWorkerProcess({ ...sys.workerProcessEnv, ...extraEnv });
    workers.push(worker);
    return worker;
  };
}
