import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';

/**
 * Child processes the bench and the soak own. Every one is registered so that it is
 * killed when this process exits, whatever the path out (error, signal, deadline).
 */
const live = new Set<ChildProcess>();
let hooked = false;

export function adopt(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (hooked) return;
  hooked = true;
  process.once('exit', () => {
    for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
}

export interface NodeChild {
  name: string;
  child: ChildProcess;
  pid: number;
  /** The tail of its output, for error messages. */
  tail(): string;
  /** Resolves when `text` has appeared in its output; rejects if it exits first or on timeout. */
  waitFor(text: string, timeoutMs: number): Promise<void>;
  /** SIGKILL, as a crashed pod would die. */
  kill(): Promise<void>;
  /** SIGTERM, then SIGKILL after 5 s. */
  stop(): Promise<void>;
  readonly exited: Promise<void>;
  alive(): boolean;
}

/** Runs `node <script>` with `env` added, its output appended to `logFile` (when given). */
export function spawnNode(
  name: string,
  script: string,
  env: Record<string, string>,
  logFile?: string,
  nodeFlags: string[] = [],
): NodeChild {
  // BENCH_CPU_PROFILE_DIR: every child writes a V8 CPU profile there when it exits (not when SIGKILLed).
  const profileDir = process.env.BENCH_CPU_PROFILE_DIR;
  const args = profileDir
    ? [
        '--cpu-prof',
        `--cpu-prof-dir=${profileDir}`,
        `--cpu-prof-name=${name}-${Date.now()}-${Math.floor(Math.random() * 1e6)}.cpuprofile`,
        ...nodeFlags,
        script,
      ]
    : [...nodeFlags, script];
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  adopt(child);
  const log: WriteStream | undefined = logFile ? createWriteStream(logFile, { flags: 'a' }) : undefined;
  let tail = '';
  let seen = '';
  const waiters = new Set<{ text: string; resolve: () => void }>();
  const onData = (chunk: Buffer) => {
    log?.write(chunk);
    const s = chunk.toString();
    tail = (tail + s).slice(-8000);
    seen = (seen + s).slice(-4000);
    for (const w of waiters) {
      if (seen.includes(w.text)) {
        waiters.delete(w);
        w.resolve();
      }
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      // Let the last output drain into the log file before anyone reads it.
      if (log) log.end(() => resolve());
      else resolve();
    });
  });
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    name,
    child,
    pid: child.pid ?? -1,
    tail: () => tail,
    exited,
    alive,
    waitFor(text, timeoutMs) {
      if (seen.includes(text)) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const entry = {
          text,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(entry);
          reject(new Error(`${name} did not print "${text}" within ${timeoutMs} ms:\n${tail}`));
        }, timeoutMs);
        waiters.add(entry);
        void exited.then(() => {
          if (!waiters.has(entry)) return;
          waiters.delete(entry);
          clearTimeout(timer);
          reject(new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before printing "${text}":\n${tail}`));
        });
      });
    },
    async kill() {
      if (alive()) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (!alive()) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
