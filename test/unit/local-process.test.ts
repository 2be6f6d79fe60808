import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { AppError } from '../../src/errors';
import { ExitedBeforeListening, freePort, retryBindClash, startProcess, waitForPort } from '../../src/local/process';
import { PROJECT_ROOT } from '../../src/local/tools';
import { eventually } from '../support/waits';

/** A child that prints a panic's first line, a long stack trace, then exits 2 without listening (as Go does). */
function panickingChild() {
  const script = `
    process.stderr.write('panic: listen tcp 127.0.0.1:1: bind: address already in use\\n\\n');
    for (let i = 0; i < 400; i += 1) process.stderr.write('go.uber.org/dig.paramList.BuildList frame ' + i + '\\n');
    process.stderr.write('main.main() last frame\\n');
    process.exitCode = 2;`;
  return startProcess('temporal', process.execPath, ['-e', script]);
}

describe('local servers: start-up failures (src/local/process.ts)', function () {
  this.timeout(30_000);

  it('a free port is chosen below the ephemeral range (outgoing connections take theirs there), and is free', async () => {
    const ports = await Promise.all(Array.from({ length: 5 }, () => freePort()));
    for (const port of ports) {
      assert.ok(port >= 1024 && port < 32_768, `${port}`);
      await new Promise<void>((resolve, reject) => {
        const srv = net.createServer().once('error', reject);
        srv.listen(port, '127.0.0.1', () => srv.close(() => resolve()));
      });
    }
  });

  it('a server that panics before listening is reported with the panic message, not only the end of its stack', async () => {
    const proc = panickingChild();
    const port = await freePort();
    let panicked: unknown;
    await assert.rejects(waitForPort(port, '127.0.0.1', 20_000, proc), (e: unknown) => {
      assert.ok(e instanceof ExitedBeforeListening, String(e));
      assert.match(e.message, /^temporal exited with code 2 before listening on 127\.0\.0\.1:\d+:/);
      assert.match(e.message, /panic: listen tcp 127\.0\.0\.1:1: bind: address already in use/);
      assert.match(e.message, /\[…\]/, 'the middle of a long output is marked as left out');
      assert.match(e.message, /main\.main\(\) last frame/);
      assert.ok(e.message.length < 10_000, `kept to head and tail: ${e.message.length} chars`);
      panicked = e;
      return true;
    });
    // That error is a start race: started again.
    let calls = 0;
    const up = await retryBindClash(
      async () => {
        calls += 1;
        if (calls === 1) throw panicked;
        return 'up';
      },
      () => undefined,
    );
    assert.deepEqual([up, calls], ['up', 2]);
  });

  it('a short output is kept whole, without the left-out mark', async () => {
    const proc = startProcess('server', process.execPath, ['-e', 'console.log("one"); console.error("two"); process.exitCode = 1']);
    await assert.rejects(waitForPort(await freePort(), '127.0.0.1', 20_000, proc), (e: unknown) => {
      assert.ok(e instanceof ExitedBeforeListening);
      assert.match(e.message, /one/);
      assert.match(e.message, /two/);
      assert.doesNotMatch(e.message, /\[…\]/);
      return true;
    });
  });

  it('a start that panicked before listening is tried again, three times in all, and the last failure is thrown', async () => {
    let calls = 0;
    const said: string[] = [];
    const started = await retryBindClash(
      async () => {
        calls += 1;
        if (calls < 3) throw new ExitedBeforeListening(`temporal exited with code 2 before listening (call ${calls})\npanic: …`);
        return 'up';
      },
      (line) => said.push(line),
    );
    assert.equal(started, 'up');
    assert.equal(calls, 3);
    assert.deepEqual(said, [
      '[started again] temporal exited with code 2 before listening (call 1) (attempt 1 of 3)\n',
      '[started again] temporal exited with code 2 before listening (call 2) (attempt 2 of 3)\n',
    ]);

    calls = 0;
    await assert.rejects(
      retryBindClash(
        async () => {
          calls += 1;
          throw new ExitedBeforeListening(`exited (call ${calls}):\ngoroutine 1 [running]:`);
        },
        () => undefined,
      ),
      /exited \(call 3\)/,
    );
    assert.equal(calls, 3);
  });

  it('a failure that is not a start race is thrown at once: a missing binary, an exit that names its cause', async () => {
    for (const failure of [
      new AppError('temporal could not be started (ENOENT): check its path'),
      new ExitedBeforeListening('temporal exited with code 1 before listening on 127.0.0.1:7233:\nError: database is locked'),
    ]) {
      let calls = 0;
      await assert.rejects(
        retryBindClash(
          async () => {
            calls += 1;
            throw failure;
          },
          () => assert.fail('not said: not retried'),
        ),
        failure,
      );
      assert.equal(calls, 1, failure.message);
    }
  });

  it('a server killed by a signal before listening is reported at once, not after the wait', async () => {
    const proc = startProcess('ferretdb', process.execPath, ['-e', 'process.kill(process.pid, "SIGKILL")']);
    // A wait longer than the test's timeout: one that ran out would fail the test (no clock asserted).
    await assert.rejects(waitForPort(await freePort(), '127.0.0.1', 600_000, proc), (e: unknown) => {
      assert.ok(e instanceof ExitedBeforeListening, String(e));
      assert.match(e.message, /^ferretdb was killed by SIGKILL before listening/);
      return true;
    });
  });

  it('a server still running when this process exits (a signal during start-up) is killed with it', async () => {
    const processJs = path.join(PROJECT_ROOT, 'dist', 'src', 'local', 'process.js');
    // The parent starts a long-lived server, prints its pid, and exits as a signal handler would.
    const script = [
      `const { startProcess } = require(${JSON.stringify(processJs)});`,
      `const proc = startProcess('ferretdb', process.execPath, ['-e', 'setInterval(() => undefined, 1000)']);`,
      'console.log(String(proc.child.pid));',
      'setTimeout(() => process.exit(143), 200);',
    ].join('\n');
    const parent = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(parent.status, 143, parent.stderr);
    const pid = Number(parent.stdout.trim());
    assert.ok(pid > 0, parent.stdout);
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    try {
      await eventually('the server gone with its parent', async () => (alive() ? undefined : true), 10_000);
    } finally {
      if (alive()) process.kill(pid, 'SIGKILL');
    }
  });
});
