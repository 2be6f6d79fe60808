import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { loadEnv } from '../../src/config/env';
import { generateKeySpec } from '../../src/crypto/secrets';
import { ConfigError } from '../../src/errors';
import { PROJECT_ROOT } from '../../src/local/tools';

const VALID = { TALKDESK_APP_ID: 'app1', TALKDESK_WEBHOOK_SECRET: 'a-webhook-secret-of-some-length', SECRETS_KEY: generateKeySpec('k1') };

describe('configuration from the environment', () => {
  it('gives every optional variable its documented default', () => {
    const env = loadEnv(VALID);
    assert.equal(env.PORT, 3000);
    assert.equal(env.TEMPORAL_TASK_QUEUE, 'appconnect-lifecycle');
    assert.equal(env.MONGODB_DB, 'appconnect');
    assert.ok(env.TALKDESK_ALLOWED_HOSTS.includes('api.talkdeskapp.com'));
    assert.equal(env.DEV_SKIP_SIGNATURE_CHECK, false);
  });

  it('names each missing or malformed variable, without echoing secret values', () => {
    const bad = { ...VALID, TALKDESK_APP_ID: undefined, PORT: 'eighty', MONGODB_URI: 'postgres://x', TALKDESK_WEBHOOK_SECRET: 'short' };
    assert.throws(
      () => loadEnv(bad),
      (err: unknown) =>
        err instanceof ConfigError &&
        /TALKDESK_APP_ID/.test(err.message) &&
        /PORT/.test(err.message) &&
        /MONGODB_URI/.test(err.message) &&
        /TALKDESK_WEBHOOK_SECRET/.test(err.message) &&
        !err.message.includes('short'),
    );
  });

  it("refuses an admin port equal to the callback port (both are this process's own listeners)", () => {
    assert.throws(
      () => loadEnv({ ...VALID, PORT: '9465', ADMIN_PORT: '9465' }),
      (err: unknown) => err instanceof ConfigError && err.message.includes('ADMIN_PORT: must differ from PORT (9465)'),
    );
    assert.doesNotThrow(() => loadEnv({ ...VALID, PORT: '0', ADMIN_PORT: '0' }), 'both picked by the system');
    // A wildcard host takes the port on every address: it clashes with a loopback admin listener too.
    assert.throws(
      () => loadEnv({ ...VALID, HOST: '0.0.0.0', ADMIN_HOST: '127.0.0.1', PORT: '3000', ADMIN_PORT: '3000' }),
      (err: unknown) => err instanceof ConfigError && err.message.includes('ADMIN_PORT: must differ from PORT (3000)'),
    );
    assert.doesNotThrow(() => loadEnv({ ...VALID, HOST: '127.0.0.2', ADMIN_HOST: '127.0.0.1', PORT: '3000', ADMIN_PORT: '3000' }));
  });

  it('refuses TEMPORAL_TLS_DISABLE_HOST_VERIFICATION=true, which the TypeScript SDK drops (it only turned TLS on), naming what to set', () => {
    for (const value of ['false', '0', '']) assert.doesNotThrow(() => loadEnv({ ...VALID, TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: value }));
    for (const value of ['true', '1', 'yes'])
      assert.throws(
        () => loadEnv({ ...VALID, TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: value }),
        (err: unknown) => err instanceof ConfigError && err.message.includes('TEMPORAL_TLS_SERVER_NAME'),
        value,
      );
  });

  it('refuses a Temporal TLS switch the Temporal SDK would read as off (it takes only 1 or true)', () => {
    for (const name of ['TEMPORAL_TLS']) {
      for (const value of ['true', 'false', '1', '0', ''])
        assert.doesNotThrow(() => loadEnv({ ...VALID, [name]: value }), `${name}=${value}`);
      for (const value of ['yes', 'TRUE', 'on'])
        assert.throws(
          () => loadEnv({ ...VALID, [name]: value }),
          (err: unknown) => err instanceof ConfigError && err.message.includes(`${name}: must be true or false (1 or 0)`),
          `${name}=${value}`,
        );
    }
  });

  it('takes a SECRETS_KEY the key parser takes (a trailing newline from a secret file, spaces around entries), names what is wrong in one it refuses', () => {
    const [k1, k2] = [generateKeySpec('k1'), generateKeySpec('k2')];
    for (const spec of [`${k1}\n`, `${k2} , ${k1}`, k1.replace(':', ': ')])
      assert.doesNotThrow(() => loadEnv({ ...VALID, SECRETS_KEY: spec }), spec);
    assert.throws(
      () => loadEnv({ ...VALID, SECRETS_KEY: `${k1},k2:tooshort` }),
      (err: unknown) =>
        err instanceof ConfigError && /SECRETS_KEY.*entry 2: key is not 32 bytes/.test(err.message) && !err.message.includes(k1),
    );
  });

  it('refuses an empty or non-decimal number instead of reading it as 0 or 16, and says a missing variable is required', () => {
    for (const [name, value] of [
      ['PORT', ''],
      ['ADMIN_PORT', ' '],
      ['WORKER_MAX_CACHED_WORKFLOWS', ''],
      ['PORT', '0x10'],
      ['RECONCILE_PAGE_SIZE', '1e2'],
    ] as const) {
      assert.throws(
        () => loadEnv({ ...VALID, [name]: value }),
        (err: unknown) => err instanceof ConfigError && err.message.includes(`${name}: must be a decimal number`),
        `${name}=${JSON.stringify(value)}`,
      );
    }
    assert.equal(loadEnv({ ...VALID, PORT: ' 8080 ' }).PORT, 8080);
    for (const address of ['not a host', 'http://temporal:7233']) {
      assert.throws(
        () => loadEnv({ ...VALID, TEMPORAL_ADDRESS: address }),
        (err: unknown) => err instanceof ConfigError && /TEMPORAL_ADDRESS: must be host:port/.test(err.message),
      );
    }
    for (const address of ['localhost:7233', 'ns.acct.tmprl.cloud:7233', '[::1]:7233', 'temporal'])
      assert.equal(loadEnv({ ...VALID, TEMPORAL_ADDRESS: address }).TEMPORAL_ADDRESS, address);
    assert.equal(loadEnv({ ...VALID, RECONCILE_ACTIVE_CHECK_HOURS: '0.5' }).RECONCILE_ACTIVE_CHECK_HOURS, 0.5);
    assert.throws(
      () => loadEnv({ ...VALID, RECONCILE_INTERVAL_MINUTES: '0.001' }),
      (err: unknown) => err instanceof ConfigError && /RECONCILE_INTERVAL_MINUTES: must be at least 1\/60/.test(err.message),
    );
    assert.throws(
      () => loadEnv({ ...VALID, TALKDESK_APP_ID: undefined }),
      (err: unknown) =>
        err instanceof ConfigError && /TALKDESK_APP_ID: required, not set/.test(err.message) && /docs\/configuration\.md/.test(err.message),
    );
  });

  it('refuses an allow-list that is empty or holds a bad entry, and a zero body limit, at start-up', () => {
    const refused = (extra: Record<string, string>, pattern: RegExp) =>
      assert.throws(
        () => loadEnv({ ...VALID, ...extra }),
        (err: unknown) => err instanceof ConfigError && pattern.test(err.message),
        JSON.stringify(extra),
      );
    refused({ TALKDESK_ALLOWED_HOSTS: '' }, /TALKDESK_ALLOWED_HOSTS: must list at least one host \(unset it for the default/);
    refused({ TALKDESK_ALLOWED_HOSTS: ' , ' }, /TALKDESK_ALLOWED_HOSTS: must list at least one host/);
    refused(
      { TALKDESK_ALLOWED_HOSTS: 'api.talkdeskapp.com,https://evil.example' },
      /TALKDESK_ALLOWED_HOSTS: .*"https:\/\/evil\.example" is invalid: give a host, not a URL/,
    );
    refused({ CALLBACK_BODY_LIMIT: '0kb' }, /CALLBACK_BODY_LIMIT: must be more than 0/);
    assert.deepEqual(loadEnv({ ...VALID, TALKDESK_ALLOWED_HOSTS: 'api.talkdeskapp.eu, 127.0.0.1:4010' }).TALKDESK_ALLOWED_HOSTS, [
      'api.talkdeskapp.eu',
      '127.0.0.1:4010',
    ]);
    assert.equal(loadEnv({ ...VALID, CALLBACK_BODY_LIMIT: '10kb' }).CALLBACK_BODY_LIMIT, '10kb');
  });

  it('takes a TALKDESK_APP_ID with a trailing newline (trimmed), refuses one no event can carry (every event would be 403 wrong_app)', () => {
    assert.equal(loadEnv({ ...VALID, TALKDESK_APP_ID: ' app-1:v2\n' }).TALKDESK_APP_ID, 'app-1:v2');
    for (const id of ['', 'my app', 'app/1', 'x'.repeat(129)])
      assert.throws(
        () => loadEnv({ ...VALID, TALKDESK_APP_ID: id }),
        (err: unknown) => err instanceof ConfigError && err.message.includes('TALKDESK_APP_ID: must be a Talkdesk app id'),
        JSON.stringify(id),
      );
  });

  it('refuses a Talkdesk request timeout past half an activity, and a dispatch interval past an hour or a shutdown grace past a day (Node would run the timer at once)', () => {
    assert.equal(
      loadEnv({ ...VALID, TALKDESK_HTTP_TIMEOUT_MS: '30000', DISPATCH_INTERVAL_MS: '3600000' }).TALKDESK_HTTP_TIMEOUT_MS,
      30_000,
    );
    assert.equal(loadEnv({ ...VALID, WORKER_SHUTDOWN_GRACE_SECONDS: '86400' }).WORKER_SHUTDOWN_GRACE_SECONDS, 86_400);
    for (const [name, value, pattern] of [
      ['TALKDESK_HTTP_TIMEOUT_MS', '3000000000', /TALKDESK_HTTP_TIMEOUT_MS: must be at most 30000 \(ms\)/],
      ['DISPATCH_INTERVAL_MS', '3000000000', /DISPATCH_INTERVAL_MS: must be at most 3600000/],
      // The stuck-worker exit's timer (the grace and 30 s) fired at once past 2^31 - 1 ms: no grace at all.
      ['WORKER_SHUTDOWN_GRACE_SECONDS', '3000000', /WORKER_SHUTDOWN_GRACE_SECONDS: must be at most 86400/],
    ] as const)
      assert.throws(
        () => loadEnv({ ...VALID, [name]: value }),
        (err: unknown) => err instanceof ConfigError && pattern.test(err.message),
        name,
      );
  });

  it('refuses a worker cache of one workflow (the SDK raises it to 2 with a warning in its own log); 0 and 2 pass', () => {
    for (const n of [0, 2]) assert.equal(loadEnv({ ...VALID, WORKER_MAX_CACHED_WORKFLOWS: String(n) }).WORKER_MAX_CACHED_WORKFLOWS, n);
    assert.throws(
      () => loadEnv({ ...VALID, WORKER_MAX_CACHED_WORKFLOWS: '1' }),
      (err: unknown) => err instanceof ConfigError && /WORKER_MAX_CACHED_WORKFLOWS: must be 0 \(no cache\) or at least 2/.test(err.message),
    );
  });

  it('refuses a WORKER_METRICS_BIND the SDK would refuse after connecting to the store (a host name); IPs, [IPv6] and empty pass', () => {
    for (const v of ['127.0.0.1:9464', '0.0.0.0:9000', '[::1]:9464', ''])
      assert.equal(loadEnv({ ...VALID, WORKER_METRICS_BIND: v }).WORKER_METRICS_BIND, v);
    for (const v of ['localhost:9464', '127.0.0.1', '::1:9464', '127.0.0.1:70000', '[127.0.0.1]:9464', '[fe80::1%eth0]:9464'])
      assert.throws(
        () => loadEnv({ ...VALID, WORKER_METRICS_BIND: v }),
        (err: unknown) => err instanceof ConfigError && /WORKER_METRICS_BIND: must be an IP address and port/.test(err.message),
        v,
      );
  });

  it('refuses a MONGODB_DB MongoDB would refuse (the driver or the server), instead of reporting MongoDB unreachable', () => {
    // MongoDB's rules on Linux (the Windows ones, * < > : | ?, are not refused: a deployment may use them).
    for (const name of ['appconnect', 'appconnect_prod', 'app-connect-2', 'app:connect', 'x'.repeat(63)])
      assert.equal(loadEnv({ ...VALID, MONGODB_DB: name }).MONGODB_DB, name);
    for (const name of ['', 'appconnect.prod', 'app connect', 'a/b', 'a\\b', 'a$b', 'a"b', 'x'.repeat(64), 'é'.repeat(32)])
      assert.throws(
        () => loadEnv({ ...VALID, MONGODB_DB: name }),
        (err: unknown) => err instanceof ConfigError && err.message.includes('MONGODB_DB: must be a MongoDB database name'),
        JSON.stringify(name),
      );
  });

  it('setup:temporal refuses a TEMPORAL_TLS the SDK would read as off (an API key sent in clear) with exit code 2', () => {
    const res = spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'dist/src/entry/setup-temporal.js')], {
      // An address nothing listens on: were the setting taken, the command would try to connect and fail otherwise.
      env: { PATH: process.env.PATH, TEMPORAL_ADDRESS: '127.0.0.1:1', TEMPORAL_TLS: 'yes', TEMPORAL_API_KEY: 'an-api-key-not-to-print' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(res.status, 2, res.stderr);
    assert.match(res.stderr, /TEMPORAL_TLS: must be true or false/);
    assert.ok(!`${res.stdout}${res.stderr}`.includes('an-api-key-not-to-print'));
  });

  it('stops a process at start-up with exit code 2 and a message naming the variable', () => {
    for (const entry of ['web', 'worker']) {
      const res = spawnSync(process.execPath, [path.join(PROJECT_ROOT, `dist/src/entry/${entry}.js`)], {
        env: { PATH: process.env.PATH, ...VALID, SECRETS_KEY: undefined },
        encoding: 'utf8',
        timeout: 20_000,
      });
      assert.equal(res.status, 2, `${entry}: ${res.stderr}`);
      assert.match(res.stderr, /SECRETS_KEY/);
    }
  });

  it('npm start refuses an empty LOCAL_DATA_DIR before writing a key file, and a local port another process holds, with exit code 2', async () => {
    const local = path.join(PROJECT_ROOT, 'dist/src/entry/local.js');
    const base = { PATH: process.env.PATH, HOME: process.env.HOME };
    const empty = spawnSync(process.execPath, [local], { env: { ...base, LOCAL_DATA_DIR: '' }, encoding: 'utf8', timeout: 20_000 });
    assert.equal(empty.status, 2, empty.stderr);
    assert.match(empty.stderr, /LOCAL_DATA_DIR/);
    assert.equal(existsSync(path.join(PROJECT_ROOT, 'local-secrets-key')), false, 'no key file in the project root');

    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as net.AddressInfo;
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'local-data-'));
    try {
      const held = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [local], {
          env: { ...base, LOCAL_DATA_DIR: dataDir, TEMPORAL_ADDRESS: '127.0.0.1:1', LOCAL_MONGODB_PORT: String(port) },
        });
        let stderr = '';
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        child.on('exit', (code) => resolve({ code, stderr }));
      });
      assert.equal(held.code, 2, held.stderr);
      assert.match(held.stderr, new RegExp(`LOCAL_MONGODB_PORT=${port}: 127\\.0\\.0\\.1:${port} is already in use by another process`));
      assert.match(held.stderr, /or set MONGODB_URI/);
      // The launch settings too, before any server starts (no TEMPORAL_ADDRESS: it would start the dev server next).
      const badKey = spawnSync(process.execPath, [local], {
        env: { ...base, LOCAL_DATA_DIR: dataDir, SSO_SIGNING_KEYS: 'k1:notakey' },
        encoding: 'utf8',
        timeout: 20_000,
      });
      assert.equal(badKey.status, 2, badKey.stderr);
      assert.match(badKey.stderr, /SSO_SIGNING_KEYS key k1: not a base64 PKCS#8 DER private key/);
      assert.ok(!existsSync(path.join(dataDir, 'temporal')) && !existsSync(path.join(dataDir, 'ferretdb')), 'no server was started');
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()));
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('a MongoDB that cannot be reached stops web and worker with a message naming MONGODB_URI, without its password', () => {
    for (const entry of ['web', 'worker']) {
      const res = spawnSync(process.execPath, [path.join(PROJECT_ROOT, `dist/src/entry/${entry}.js`)], {
        env: {
          PATH: process.env.PATH,
          ...VALID,
          MONGODB_URI: 'mongodb://app:pw-not-to-print@127.0.0.1:1/',
          PORT: '0',
          ADMIN_PORT: '0',
          WORKER_METRICS_BIND: '',
        },
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(res.status, 1, `${entry}: ${res.stderr}`);
      assert.match(
        res.stderr,
        /MongoDB at mongodb:\/\/127\.0\.0\.1:1\/ \(MONGODB_URI\) cannot be reached: .*Start it or correct MONGODB_URI/,
      );
      assert.ok(!`${res.stdout}${res.stderr}`.includes('pw-not-to-print'), `${entry}: the password is not printed`);
    }
  });

  it('npm run demo refuses an empty or non-numeric SIMULATOR_PORT with exit code 2, as the services refuse an empty number', () => {
    for (const [value, message] of [
      ['', /SIMULATOR_PORT is set but empty: remove it to get 4010, or set a port number/],
      ['40x0', /SIMULATOR_PORT must be a port number, got "40x0"/],
    ] as const) {
      const res = spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'dist/src/entry/demo.js')], {
        env: { PATH: process.env.PATH, SIMULATOR_PORT: value },
        encoding: 'utf8',
        timeout: 20_000,
      });
      assert.equal(res.status, 2, res.stderr);
      assert.match(res.stderr, message);
    }
  });
});
