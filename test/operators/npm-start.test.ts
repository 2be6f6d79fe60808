import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, portInUse } from '../../src/local/process';
import { PROJECT_ROOT } from '../../src/local/tools';
import { eventually } from '../support/waits';

interface Running {
  child: ChildProcessWithoutNullStreams;
  out(): string;
  exited: Promise<number | null>;
}

/**
 * A developer's machine with a Temporal CLI profile for their cloud account (the default profile: an API key, so TLS):
 * the SDK reads it from $XDG_CONFIG_HOME/temporalio/temporal.toml. Not for the dev server `npm start` runs: before,
 * its key and TLS were sent to the local server, and nothing connected.
 */
const CLOUD_PROFILE_HOME = mkdtempSync(path.join(os.tmpdir(), 'appconnect-cloud-profile-'));
mkdirSync(path.join(CLOUD_PROFILE_HOME, 'temporalio'));
writeFileSync(
  path.join(CLOUD_PROFILE_HOME, 'temporalio', 'temporal.toml'),
  '[profile.default]\naddress = "acme.a1b2c.tmprl.cloud:7233"\nnamespace = "acme.a1b2c"\napi_key = "a-cloud-api-key-not-for-local"\n',
);

const sleepMs = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

function run(entry: string, env: Record<string, string>, args: string[] = []): Running {
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, `dist/src/entry/${entry}.js`), ...args], {
    env: { PATH: process.env.PATH ?? '', XDG_CONFIG_HOME: CLOUD_PROFILE_HOME, ...env },
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, out: () => out, exited };
}

/**
 * The README's first command, `npm start` (src/entry/local.ts), on ports of its own: the whole
 * system comes up, its banner says how to send the demo install on those ports, the demo's
 * install is approved, and Ctrl-C stops everything it started.
 */
describe('npm start: the whole system on embedded defaults (a cloud profile on the machine)', function () {
  this.timeout(120_000);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'appconnect-npm-start-'));
  const running: Running[] = [];
  after(async () => {
    // SIGTERM first: `npm start` stops the servers it started (SIGKILLed after a failed test, it left FerretDB running).
    const left = running.filter((r) => r.child.exitCode === null);
    for (const r of left) r.child.kill('SIGTERM');
    const stopped = await Promise.race([Promise.all(left.map((r) => r.exited)).then(() => true), sleepMs(20_000).then(() => false)]);
    if (!stopped) for (const r of left) if (r.child.exitCode === null) r.child.kill('SIGKILL');
    await Promise.all(running.map((r) => r.exited));
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(CLOUD_PROFILE_HOME, { recursive: true, force: true });
  });

  /** `npm start` (src/entry/local.ts) on free ports of its own, in this suite's data folder. */
  async function startLocal() {
    const [port, adminPort, temporalPort, uiPort, mongoPort, simPort, metricsPort] = await Promise.all(
      Array.from({ length: 7 }, () => freePort()),
    );
    const start = run('local', {
      PORT: String(port),
      ADMIN_PORT: String(adminPort),
      LOCAL_TEMPORAL_PORT: String(temporalPort),
      LOCAL_TEMPORAL_UI_PORT: String(uiPort),
      LOCAL_MONGODB_PORT: String(mongoPort),
      SIMULATOR_PORT: String(simPort),
      WORKER_METRICS_BIND: `127.0.0.1:${metricsPort}`,
      LOCAL_DATA_DIR: dataDir,
      // The shell's settings for the cloud cluster, one of them a value the SDK cannot honour (refused with TEMPORAL_ADDRESS
      // set): not for the dev server, neither used nor refused.
      TEMPORAL_TLS: 'true',
      TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: 'true',
    });
    running.push(start);
    return { start, port, adminPort, temporalPort, uiPort, mongoPort, simPort };
  }

  it('starts Temporal (with its UI), FerretDB, worker and web; the banner prints the demo line for these ports; the demo install is approved; Ctrl-C stops it all', async () => {
    const { start, port, adminPort, temporalPort, uiPort, mongoPort, simPort } = await startLocal();
    const line = await eventually(
      'the banner',
      async () => /Send a demo install from another terminal: +(.+)/.exec(start.out())?.[1],
      90_000,
    ).catch(() => assert.fail(`no banner; npm start printed:\n${start.out()}`));
    assert.equal(
      line,
      `CALLBACK_URL=http://127.0.0.1:${port}/talkdesk/events APP_BASE_URL=http://127.0.0.1:${port} SIMULATOR_PORT=${simPort} ` +
        `LOCAL_TEMPORAL_UI_PORT=${uiPort} npm run demo`,
    );
    assert.equal((await fetch(`http://localhost:${uiPort}/`)).status, 200, 'the Temporal UI answers');
    assert.equal((await fetch(`http://127.0.0.1:${adminPort}/readyz`)).status, 200);

    // The demo exactly as the banner says.
    const vars = Object.fromEntries(line.split(' ').flatMap((w) => (/^[A-Z_]+=/.test(w) ? [w.split(/=(.*)/s).slice(0, 2)] : [])));
    const demo = run('demo', vars);
    running.push(demo);
    await eventually('the approval at the demo', async () => /approval call received/.test(demo.out()) || undefined, 60_000).catch(() =>
      assert.fail(`no approval; demo printed:\n${demo.out()}\nnpm start printed:\n${start.out()}`),
    );
    assert.match(demo.out(), new RegExp(`Temporal UI: +http://localhost:${uiPort} `), "the demo points at this instance's UI");
    demo.child.kill('SIGINT');
    await demo.exited;

    start.child.kill('SIGINT');
    assert.equal(await start.exited, 0, start.out());
    for (const p of [port, temporalPort, uiPort, mongoPort]) assert.equal(await portInUse(p ?? 0), false, `port ${p} freed`);
  });

  it('a SIGUSR2 (the SDK drains the worker on it) ends npm start with exit 1 and its servers, not a web server with no worker', async () => {
    const { start, port, temporalPort, mongoPort } = await startLocal();
    await eventually('the banner', async () => /appconnect-lifecycle is running/.test(start.out()) || undefined, 90_000).catch(() =>
      assert.fail(`no banner; npm start printed:\n${start.out()}`),
    );
    start.child.kill('SIGUSR2');
    assert.equal(await start.exited, 1, start.out());
    assert.match(start.out(), /the worker stopped \(a SIGQUIT or SIGUSR2 drains it\)/);
    // Killed by its exit hooks (not awaited as an orderly stop is): freed within moments.
    for (const p of [port, temporalPort, mongoPort]) {
      await eventually(`port ${p} freed`, async () => !(await portInUse(p ?? 0)) || undefined, 10_000);
    }
  });

  // Not `default`: the processes started from the settings file find it only if the file names it.
  const NAMESPACE = 'split-ns';
  it('npm run start:servers: the servers alone, and a settings file with which the production web and worker processes run against them', async () => {
    const [port, temporalPort, uiPort, mongoPort, simPort, metricsPort] = await Promise.all(Array.from({ length: 6 }, () => freePort()));
    const only = run(
      'local',
      {
        LOCAL_TEMPORAL_PORT: String(temporalPort),
        LOCAL_TEMPORAL_UI_PORT: String(uiPort),
        LOCAL_MONGODB_PORT: String(mongoPort),
        SIMULATOR_PORT: String(simPort),
        LOCAL_DATA_DIR: path.join(dataDir, 'split'),
        TEMPORAL_NAMESPACE: NAMESPACE,
      },
      ['--servers-only'],
    );
    running.push(only);
    const envFile = await eventually('the servers banner', async () => /Settings file: +(\S+)/.exec(only.out())?.[1], 90_000).catch(() =>
      assert.fail(`no banner; npm run start:servers printed:\n${only.out()}`),
    );
    assert.doesNotMatch(only.out(), /SECRETS_KEY=|local-dev-webhook-secret/, 'no secret on the console');
    assert.equal(statSync(envFile).mode & 0o777, 0o600, 'the settings file is readable by its owner only');
    const settings = parseEnvFile(readFileSync(envFile, 'utf8'));
    assert.equal(settings.TEMPORAL_ADDRESS, `127.0.0.1:${temporalPort}`);
    assert.equal(settings.TEMPORAL_NAMESPACE, NAMESPACE, 'the namespace the dev server was started with');
    // The processes read the dev server's own profile (no key, no TLS), not the machine's cloud one.
    assert.doesNotMatch(readFileSync(settings.TEMPORAL_CONFIG_FILE ?? '', 'utf8'), /api_key|tls/);
    assert.ok(settings.SECRETS_KEY && settings.MONGODB_URI?.includes(String(mongoPort)));
    // The values themselves, under any label: the key (and each of its entries' key material) and the webhook secret.
    for (const secret of [settings.SECRETS_KEY, ...settings.SECRETS_KEY.split(/[,:]/), settings.TALKDESK_WEBHOOK_SECRET ?? ''].filter(
      (s) => s.length >= 12,
    ))
      assert.ok(!only.out().includes(secret), 'no secret value on the console');

    // Loaded into a shell set up for the cloud account (its profile named, its key, TLS): the file's empty values win.
    // And the cloud's remote codec, which the processes refuse at start unless the file blanks it.
    const shell = {
      TEMPORAL_PROFILE: 'cloud',
      TEMPORAL_API_KEY: 'a-cloud-api-key-not-for-local',
      TEMPORAL_TLS: 'true',
      TEMPORAL_CODEC_ENDPOINT: 'https://codec.acme.example',
    };
    const worker = run('worker', { ...shell, ...settings, WORKER_METRICS_BIND: `127.0.0.1:${metricsPort}` });
    // ADMIN_PORT 0 (any free port): not read here, and one picked ahead could be taken meanwhile by a port the dev
    // server picks itself (a CI run failed so: EADDRINUSE).
    const web = run('web', { ...shell, ...settings, PORT: String(port), ADMIN_PORT: '0' });
    running.push(worker, web);
    await eventually('the worker', async () => /worker running/.test(worker.out()) || undefined, 60_000).catch(() =>
      assert.fail(worker.out()),
    );
    await eventually('the web', async () => /web server listening/.test(web.out()) || undefined, 60_000).catch(() =>
      assert.fail(web.out()),
    );
    const demo = run('demo', {
      CALLBACK_URL: `http://127.0.0.1:${port}/talkdesk/events`,
      APP_BASE_URL: `http://127.0.0.1:${port}`,
      SIMULATOR_PORT: String(simPort),
    });
    running.push(demo);
    await eventually('the approval at the demo', async () => /approval call received/.test(demo.out()) || undefined, 60_000).catch(() =>
      assert.fail(`no approval; demo printed:\n${demo.out()}\nweb:\n${web.out()}\nworker:\n${worker.out()}`),
    );
    for (const p of [demo, web, worker, only]) {
      p.child.kill('SIGTERM');
      await p.exited;
    }
    for (const p of [temporalPort, mongoPort]) assert.equal(await portInUse(p ?? 0), false, `port ${p} freed`);
  });
});

/** NAME='value' lines, single-quoted as a shell reads them. */
function parseEnvFile(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line);
    if (m?.[1] && m[2] !== undefined) vars[m[1]] = m[2].replace(/^'|'$/g, '').replace(/'\\''/g, "'");
  }
  return vars;
}
