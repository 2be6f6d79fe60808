import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { AppError } from '../errors';

/** A child process the local runner or the test harness owns and must stop. */
export interface ManagedProcess {
  name: string;
  child: ChildProcess;
  output(): string;
  /** Why it could not be started at all (a missing or non-executable binary), if so. */
  spawnError(): Error | undefined;
  /** Resolves when its output pipes have closed, or after `timeoutMs`. */
  closed(timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A port free on `host` now, for a server started a moment later. Chosen below the kernel's ephemeral range (Linux:
 * 32768 and up), which outgoing connections take their local ports from: a port `listen(0)` handed out there could be
 * taken by a connection of another process (tests run in parallel) before the server bound it ("address already in
 * use"). Random in [LOW_PORT, HIGH_PORT), checked by binding; the kernel's choice after a few ports found taken.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let i = 0; i < 20; i += 1) {
    const port = LOW_PORT + Math.floor(Math.random() * (HIGH_PORT - LOW_PORT));
    if (await bindable(port, host)) return port;
  }
  return listenAt(0, host);
}

const LOW_PORT = 15_000;
const HIGH_PORT = 32_000;

const bindable = (port: number, host: string) =>
  listenAt(port, host).then(
    () => true,
    () => false,
  );

/** Binds `port` (0: any) on `host`, closes, and gives the port bound. */
function listenAt(port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(port, host, () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** A server that exited (or was killed) before it listened: it did nothing yet. */
export class ExitedBeforeListening extends AppError {}

/** A Go runtime panic's output (the Temporal dev server's, FerretDB's): its first line, then goroutine stacks. */
const GO_PANIC = /^panic: |\ngoroutine \d+ \[/m;

/**
 * Runs `start` again (three tries in all) when the server it starts failed to bind a port that was
 * free when picked, or panicked before listening: another process's connection can take a port
 * meanwhile, and the Temporal dev server binds internal ports of its own (history, matching, its
 * HTTP API) that nothing here chooses; a clash there can be a Go panic. An exit that names its cause
 * (a locked data file, a bad flag) is thrown at once with its output: starting it again would not help.
 */
export async function retryBindClash<T>(
  start: () => Promise<T>,
  say: (line: string) => void = (line) => process.stderr.write(line),
): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await start();
    } catch (err) {
      const message = err instanceof Error ? err.message : '';
      const race = /address already in use/.test(message) || (err instanceof ExitedBeforeListening && GO_PANIC.test(message));
      if (attempt >= 3 || !race) throw err;
      // Said aloud: a start that keeps failing once should be visible in the test output.
      say(`[started again] ${message.split('\n')[0]} (attempt ${attempt} of 3)\n`);
    }
  }
}

export function canConnect(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Whether something already listens there: a server started on it would not bind, and waitForPort would find the other one. */
export function portInUse(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'EADDRINUSE'));
    srv.listen(port, host, () => srv.close(() => resolve(false)));
  });
}

export async function waitForPort(port: number, host: string, timeoutMs: number, proc?: ManagedProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const failed = proc?.spawnError();
    if (proc && failed) {
      const code = (failed as NodeJS.ErrnoException).code ?? failed.name;
      throw new AppError(
        `${proc.name} could not be started (${code}): check its path (${proc.name.toUpperCase()}_PATH) or run npm run setup`,
      );
    }
    if (proc && (proc.child.exitCode !== null || proc.child.signalCode !== null)) {
      // Its last output (a panic's message) may still be in the pipes when it exits: read once they close.
      await proc.closed(2_000);
      const how = proc.child.exitCode !== null ? `exited with code ${proc.child.exitCode}` : `was killed by ${proc.child.signalCode}`;
      throw new ExitedBeforeListening(`${proc.name} ${how} before listening on ${host}:${port}:\n${proc.output()}`);
    }
    if (await canConnect(port, host)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new AppError(
    `${proc?.name ?? 'server'} did not listen on ${host}:${port} within ${timeoutMs} ms${proc ? ':\n' + proc.output() : ''}`,
  );
}

/** Children started here that have not exited: killed when this process exits, so none outlives it. */
const live = new Set<ChildProcess>();
let exitHooked = false;

/** A server still starting when this process exits (a signal during `npm start`'s start-up) is killed with it. */
function killedOnExit(child: ChildProcess): void {
  if (!exitHooked) {
    exitHooked = true;
    process.once('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
  live.add(child);
  child.once('exit', () => live.delete(child));
}

const HEAD_CHARS = 3000;
const TAIL_CHARS = 6000;

/**
 * Spawns a child, keeping the head and the tail of its output for error messages: a Go panic's
 * message comes first and its stack trace can run to many kilobytes after it.
 */
export function startProcess(name: string, command: string, args: string[], env: NodeJS.ProcessEnv = {}): ManagedProcess {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  killedOnExit(child);
  let head = '';
  let tail = '';
  let dropped = false;
  let spawnError: Error | undefined;
  // Without a listener, a binary that is missing would crash this process with a stack trace.
  child.on('error', (err) => (spawnError ??= err));
  const keep = (chunk: string) => {
    let text = chunk;
    if (head.length < HEAD_CHARS) {
      const room = HEAD_CHARS - head.length;
      head += text.slice(0, room);
      text = text.slice(room);
    }
    const joined = tail + text;
    dropped ||= joined.length > TAIL_CHARS;
    tail = joined.slice(-TAIL_CHARS);
  };
  // Decoded as UTF-8 across chunks: a character split between two reads stays whole.
  child.stdout?.setEncoding('utf8').on('data', keep);
  child.stderr?.setEncoding('utf8').on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pipesClosed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return {
    name,
    child,
    output: () => head + (dropped ? '\n[…]\n' : '') + tail,
    spawnError: () => spawnError,
    closed: (timeoutMs) => Promise.race([pipesClosed, new Promise<void>((r) => setTimeout(r, timeoutMs).unref())]),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null || spawnError) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
