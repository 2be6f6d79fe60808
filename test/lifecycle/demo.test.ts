import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { freePort } from '../../src/local/process';
import { PROJECT_ROOT } from '../../src/local/tools';
import { APP_ID, startSystem, WEBHOOK_SECRET, type TestSystem } from '../support/system';
import { eventually, queryState, waitForPhase } from '../support/waits';

/** `npm run demo` drives a whole installation life from its prompt (src/entry/demo-commands.ts). */
describe('npm run demo: the lifecycle from its prompt', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  let demo: ChildProcessWithoutNullStreams | undefined;
  let out = '';

  before(async () => {
    const port = await freePort();
    sys = await startSystem({ talkdeskAllowedHosts: [`127.0.0.1:${port}`], launch: {} });
    demo = spawn(process.execPath, [path.join(PROJECT_ROOT, 'dist/src/entry/demo.js')], {
      env: {
        PATH: process.env.PATH ?? '',
        SIMULATOR_PORT: String(port),
        CALLBACK_URL: sys.web.callbackUrl,
        APP_BASE_URL: sys.web.url,
        // A rotation list, as the service reads it: the first signs.
        TALKDESK_WEBHOOK_SECRET: `${WEBHOOK_SECRET}, an-older-webhook-secret-still-valid`,
        TALKDESK_APP_ID: APP_ID,
      },
    });
    demo.stdout.on('data', (c: Buffer) => (out += c.toString()));
    demo.stderr.on('data', (c: Buffer) => (out += c.toString()));
  });
  after(async () => {
    if (demo && demo.exitCode === null) {
      const exited = new Promise((resolve) => demo?.once('exit', resolve));
      demo.kill('SIGTERM');
      await exited;
    }
    await sys?.close();
  });

  const printed = (what: string, re: RegExp) =>
    eventually(what, async () => re.exec(out) ?? undefined, 60_000).catch(() => assert.fail(`${what}; demo printed:\n${out}`));
  const type = (line: string) => demo?.stdin.write(`${line}\n`);

  it('installs, then updates, rotates, logs out, uninstalls and reinstalls as typed', async () => {
    const id = (await printed('the installation id', /installation id: (\S+)/))[1] ?? '';
    await printed('the approval and the prompt', /commands \(type one and press Enter\)/);
    await waitForPhase(sys.client, id, 'active');

    type('update');
    await eventually(
      'the update approved',
      async () => (await queryState(sys.client, id)).history.some((h) => h.phase === 'updating' && h.result === 'approved') || undefined,
    );
    type('rotate');
    await eventually(
      'the rotation applied',
      async () => (await queryState(sys.client, id)).history.some((h) => h.result === 'rotated') || undefined,
    );
    type('logout');
    await printed('the logout delivered', /delivering user\.logout[^\n]*\n[^\n]*delivered: HTTP 200/);
    type('bogus');
    await printed('an unknown command answered with the list', /unknown command "bogus"/);
    type('uninstall');
    await waitForPhase(sys.client, id, 'uninstalled');
    type('reinstall');
    const again = (await printed('the new installation id', /new installation id: (\S+) \(same account\)/))[1] ?? '';
    assert.notEqual(again, id);
    const v = await waitForPhase(sys.client, again, 'active');
    assert.equal(v.accountName, 'demo');
  });
});
