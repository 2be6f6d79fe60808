import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const runtimeModule = path.resolve(__dirname, '../../src/worker/runtime.js');

/** The SDK runtime is installed once per process, so each case runs in a child process of its own. */
async function installIn(child: string): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await run(process.execPath, ['-e', child], { timeout: 30_000 });
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

const script = (bind: string): string => `
const { installRuntime } = require(${JSON.stringify(runtimeModule)});
const logger = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };
try { installRuntime(logger, ${JSON.stringify(bind)}); console.log('installed'); }
catch (e) { console.log(e.name + ': ' + e.message); process.exit(3); }`;

describe('worker runtime: its metrics address', function () {
  this.timeout(60_000);

  it('a WORKER_METRICS_BIND another process holds stops the worker with an error naming the setting and what to do', async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as net.AddressInfo;
    try {
      const { code, out } = await installIn(script(`127.0.0.1:${port}`));
      assert.equal(code, 3, out);
      assert.match(out, new RegExp(`^ConfigError: WORKER_METRICS_BIND=127\\.0\\.0\\.1:${port}: `), out);
      assert.match(out, /Address already in use/, 'the cause is kept');
      assert.match(out, /Set WORKER_METRICS_BIND to a free IP address and port .* or to an empty value/, out);
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()));
    }
  });

  it('a free address, and an empty one (metrics off), install the runtime', async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as net.AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    for (const bind of [`127.0.0.1:${port}`, '']) {
      const { code, out } = await installIn(script(bind));
      assert.equal(code, 0, out);
      assert.match(out, /^installed$/m);
    }
  });
});
