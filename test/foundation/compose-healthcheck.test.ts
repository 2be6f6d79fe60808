import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { PROJECT_ROOT, toolPath } from '../../src/local/tools';
import { temporalDevEnv } from '../support/servers';

/**
 * docker-compose.yml's Temporal healthcheck, run as the container would run it, with the pinned CLI (the image's
 * version, test/unit/compose.test.ts) against a dev server: a wrong subcommand or flag keeps the stack from starting
 * (web and worker wait for it healthy), which nothing else here would show without a Docker engine.
 */
describe('docker-compose: the Temporal healthcheck command', function () {
  this.timeout(60_000);
  const compose = parse(readFileSync(path.join(PROJECT_ROOT, 'docker-compose.yml'), 'utf8')) as {
    services: { temporal: { healthcheck: { test: string[] }; image: string } };
  };
  const test = compose.services.temporal.healthcheck.test.map(String);

  it("names the CLI as the image's PATH has it (temporalio/temporal puts it in /usr/local/bin, its entrypoint `temporal`)", () => {
    assert.deepEqual(test.slice(0, 2), ['CMD', 'temporal']);
  });

  it('answers healthy from a running dev server, and fails where none listens', async () => {
    const env = await temporalDevEnv();
    const noProfile = mkdtempSync(path.join(os.tmpdir(), 'no-temporal-profile-'));
    const args = test.slice(2);
    const at = args.indexOf('--address');
    assert.equal(args[at + 1], '127.0.0.1:7233', 'the container asks its own frontend');
    const run = (address: string) =>
      promisify(execFile)(
        toolPath('temporal'),
        args.map((a, i) => (i === at + 1 ? address : a)),
        // As in the container (no profile): the machine's own (a cloud profile's API key turns TLS on) is not read.
        { timeout: 20_000, env: { PATH: process.env.PATH ?? '', HOME: noProfile, XDG_CONFIG_HOME: noProfile } },
      );
    try {
      const ok = await run(env.address);
      assert.match(ok.stdout, /SERVING/);
      await assert.rejects(run('127.0.0.1:1'), (e: unknown) => (e as { code?: number }).code !== 0);
    } finally {
      rmSync(noProfile, { recursive: true, force: true });
    }
  });
});
