import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/local/tools';
import { eventually, holdsFor } from '../support/waits';

/**
 * The orderly stop of the web process and `npm start` (src/entry/bootstrap.ts `onShutdown`): the first signal stops,
 * a second one while stopping (a second Ctrl-C) exits at once, through process.exit so 'exit' hooks still run
 * (`npm start` kills its embedded servers there; Node's default for the signal would skip them).
 */
describe('shutdown on signals (onShutdown)', function () {
  this.timeout(30_000);

  it('a second SIGINT while a stop hangs exits 130, running the exit hooks; one repeated at once is the same Ctrl-C', async () => {
    const bootstrap = path.join(PROJECT_ROOT, 'dist', 'src', 'entry', 'bootstrap.js');
    const logger = path.join(PROJECT_ROOT, 'dist', 'src', 'logging', 'logger.js');
    const script = [
      `const { onShutdown } = require(${JSON.stringify(bootstrap)});`,
      `const { createLogger } = require(${JSON.stringify(logger)});`,
      "process.once('exit', () => console.log('exit hook ran'));",
      // The same Ctrl-C delivered twice (the terminal's, and npm's copy): the repeat sent by the child itself as its stop
      // begins, well inside the second in which it is ignored, however slowly this test reads the child's output.
      "onShutdown(createLogger({ level: 'info' }), () => (process.kill(process.pid, 'SIGINT'), new Promise(() => undefined)));",
      "console.log('ready');",
      'setInterval(() => undefined, 1000);',
    ].join('\n');
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let code: number | null | undefined;
    void exited.then((c) => (code = c));
    try {
      await eventually('the child ready', async () => (out.includes('ready') ? true : undefined), 10_000);
      child.kill('SIGINT');
      await eventually('the stop begun', async () => (out.includes('shutting down') ? true : undefined), 10_000);
      await holdsFor('still stopping (a repeat at once is ignored; the stop never ends)', () => code === undefined, 1_500);
      child.kill('SIGINT');
      assert.equal(await exited, 130, out);
      assert.match(out, /second signal while stopping: exiting now/);
      assert.match(out, /exit hook ran/);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
