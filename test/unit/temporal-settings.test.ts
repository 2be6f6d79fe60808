import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadEnv } from '../../src/config/env';
import { generateKeySpec } from '../../src/crypto/secrets';
import { ConfigError } from '../../src/errors';
import { EMBEDDED_TEMPORAL_BLANKS, embeddedTemporalBlanks } from '../../src/local/servers-only';
import { embeddedTemporalSettings, temporalSettings } from '../../src/temporal/connection';

const VALID = { TALKDESK_APP_ID: 'app1', TALKDESK_WEBHOOK_SECRET: 'a-webhook-secret-of-some-length', SECRETS_KEY: generateKeySpec('k1') };
// Every variable the SDK reads, so that the shell's own (an exported TEMPORAL_TLS_SERVER_NAME) cannot decide a case.
const VARS = ['TEMPORAL_CONFIG_FILE', 'TEMPORAL_NAMESPACE', 'TEMPORAL_ADDRESS', ...EMBEDDED_TEMPORAL_BLANKS] as const;

/** The Temporal connection settings every process uses (src/temporal/connection.ts): the SDK's profile, then the environment. */
describe('Temporal settings: a profile and the environment', () => {
  let dir: string;
  const saved: Partial<Record<(typeof VARS)[number], string>> = {};
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'temporal-profile-'));
    writeFileSync(path.join(dir, 'temporal.toml'), '[profile.prod]\naddress = "prod.example.test:7233"\nnamespace = "prodns"\n');
    for (const v of VARS) {
      saved[v] = process.env[v];
      delete process.env[v];
    }
    process.env.TEMPORAL_CONFIG_FILE = path.join(dir, 'temporal.toml');
    process.env.TEMPORAL_PROFILE = 'prod';
  });
  after(() => {
    for (const v of VARS) {
      if (saved[v] === undefined) delete process.env[v];
      else process.env[v] = saved[v];
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it("takes the profile's namespace when TEMPORAL_NAMESPACE is unset (the service's own configuration gives it no default)", () => {
    assert.equal(loadEnv({ ...VALID, ...process.env }).TEMPORAL_NAMESPACE, undefined);
    const settings = temporalSettings();
    assert.equal(settings.namespace, 'prodns');
    assert.equal(settings.connectionOptions.address, 'prod.example.test:7233');
  });

  it('reads an empty TEMPORAL_TLS as unset: an API key keeps TLS on (the SDK alone would turn it off)', () => {
    process.env.TEMPORAL_API_KEY = 'not-a-real-key';
    try {
      process.env.TEMPORAL_TLS = '';
      assert.ok(temporalSettings().connectionOptions.tls, 'TLS on, as with TEMPORAL_TLS unset');
      process.env.TEMPORAL_TLS = 'false';
      assert.equal(temporalSettings().connectionOptions.tls, false, 'an explicit false still turns it off');
    } finally {
      delete process.env.TEMPORAL_TLS;
      delete process.env.TEMPORAL_API_KEY;
    }
  });

  it('an empty TEMPORAL_API_KEY or TEMPORAL_TLS_SERVER_NAME, or TEMPORAL_TLS_DISABLE_HOST_VERIFICATION=false, leaves TLS off (they turned it on)', () => {
    for (const [name, value] of [
      ['TEMPORAL_API_KEY', ''],
      ['TEMPORAL_TLS_SERVER_NAME', ''],
      ['TEMPORAL_TLS_DISABLE_HOST_VERIFICATION', 'false'],
    ] as const) {
      process.env[name] = value;
      try {
        assert.ok(!temporalSettings().connectionOptions.tls, `${name}=${value}: TLS off, as with it unset`);
      } finally {
        delete process.env[name];
      }
    }
    assert.ok(!temporalSettings().connectionOptions.tls, 'control: nothing set, no TLS');
  });

  it('an unknown TEMPORAL_PROFILE or a certificate file that does not exist stops with a ConfigError naming the settings', () => {
    const saved = process.env.TEMPORAL_PROFILE;
    process.env.TEMPORAL_PROFILE = 'typo';
    try {
      assert.throws(
        () => temporalSettings(),
        (err: unknown) =>
          err instanceof ConfigError && /Profile 'typo' not found/.test(err.message) && err.message.includes('TEMPORAL_PROFILE'),
      );
    } finally {
      process.env.TEMPORAL_PROFILE = saved;
    }
    process.env.TEMPORAL_TLS_SERVER_CA_CERT_PATH = path.join(dir, 'no-such-ca.pem');
    try {
      assert.throws(
        () => temporalSettings(),
        (err: unknown) => err instanceof ConfigError && err.message.includes('no-such-ca.pem') && err.message.includes('TEMPORAL_TLS_'),
      );
    } finally {
      delete process.env.TEMPORAL_TLS_SERVER_CA_CERT_PATH;
    }
  });

  it('TEMPORAL_CODEC_ENDPOINT or TEMPORAL_CODEC_AUTH stops with a ConfigError (the SDK reads them, then applies no codec); empty is unset', () => {
    for (const name of ['TEMPORAL_CODEC_ENDPOINT', 'TEMPORAL_CODEC_AUTH']) {
      process.env[name] = name.endsWith('AUTH') ? 'Bearer a-codec-token' : 'https://codec.example.test';
      try {
        assert.throws(
          () => temporalSettings(),
          (err: unknown) =>
            err instanceof ConfigError &&
            err.message.startsWith(`${name} set: a remote payload codec is not applied`) &&
            !err.message.includes('a-codec-token'),
          name,
        );
        process.env[name] = '';
        assert.equal(temporalSettings().namespace, 'prodns', `${name} empty counts as unset`);
      } finally {
        delete process.env[name];
      }
    }
  });

  it('a client certificate without its key (or a key without its certificate) stops with a ConfigError naming the missing one (the SDK dropped it)', () => {
    writeFileSync(path.join(dir, 'client.pem'), 'not read: the pair is refused first');
    for (const [given, missing] of [
      ['TEMPORAL_TLS_CLIENT_CERT_PATH', 'TEMPORAL_TLS_CLIENT_KEY_PATH'],
      ['TEMPORAL_TLS_CLIENT_KEY_PATH', 'TEMPORAL_TLS_CLIENT_CERT_PATH'],
    ] as const) {
      process.env[given] = path.join(dir, 'client.pem');
      try {
        assert.throws(
          () => temporalSettings(),
          (err: unknown) => err instanceof ConfigError && err.message.includes(missing) && !err.message.includes(dir),
        );
      } finally {
        delete process.env[given];
      }
    }
    // Both, or neither: read as before.
    process.env.TEMPORAL_TLS_CLIENT_CERT_PATH = path.join(dir, 'client.pem');
    process.env.TEMPORAL_TLS_CLIENT_KEY_PATH = path.join(dir, 'client.pem');
    try {
      assert.ok(temporalSettings().connectionOptions.tls);
    } finally {
      delete process.env.TEMPORAL_TLS_CLIENT_CERT_PATH;
      delete process.env.TEMPORAL_TLS_CLIENT_KEY_PATH;
    }
  });

  it('the dev server npm start runs takes neither the profile nor a key: its address, and TEMPORAL_NAMESPACE or `default`', () => {
    process.env.TEMPORAL_API_KEY = 'a-cloud-key';
    try {
      assert.deepEqual(embeddedTemporalSettings('127.0.0.1:7299'), {
        connectionOptions: { address: '127.0.0.1:7299' },
        namespace: 'default',
      });
      process.env.TEMPORAL_NAMESPACE = 'localns';
      assert.equal(embeddedTemporalSettings('127.0.0.1:7299').namespace, 'localns');
    } finally {
      delete process.env.TEMPORAL_API_KEY;
      delete process.env.TEMPORAL_NAMESPACE;
    }
  });

  it('TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE and TEMPORAL_TASK_QUEUE left empty count as unset at start (they stopped every process, exit 2)', () => {
    const env = loadEnv({ ...VALID, TEMPORAL_ADDRESS: '', TEMPORAL_NAMESPACE: '', TEMPORAL_TASK_QUEUE: '' });
    assert.equal(env.TEMPORAL_ADDRESS, undefined, 'npm start then runs its own dev server');
    assert.equal(env.TEMPORAL_NAMESPACE, undefined);
    assert.equal(env.TEMPORAL_TASK_QUEUE, 'appconnect-lifecycle');
    assert.throws(() => loadEnv({ ...VALID, TEMPORAL_ADDRESS: 'http://temporal:7233' }), /TEMPORAL_ADDRESS/);
  });

  it('lets TEMPORAL_NAMESPACE and an explicit address win over the profile', () => {
    process.env.TEMPORAL_NAMESPACE = 'other';
    try {
      const settings = temporalSettings({ address: '127.0.0.1:7999' });
      assert.equal(settings.namespace, 'other');
      assert.equal(settings.connectionOptions.address, '127.0.0.1:7999');
    } finally {
      delete process.env.TEMPORAL_NAMESPACE;
    }
  });

  it("the settings file of npm run start:servers blanks a shell's codec and gRPC headers too: the processes then start", () => {
    const blanks = embeddedTemporalBlanks({ TEMPORAL_GRPC_META_AUTHORIZATION: 'Bearer cloud-proxy', PATH: '/bin' });
    assert.ok(blanks.includes('TEMPORAL_CODEC_ENDPOINT') && blanks.includes('TEMPORAL_CODEC_AUTH'));
    assert.ok(blanks.includes('TEMPORAL_GRPC_META_AUTHORIZATION'), 'the header the shell had');
    assert.ok(!blanks.includes('PATH'));
    // Blanked (empty reads as unset), a codec set in the shell no longer stops the processes.
    process.env.TEMPORAL_CODEC_ENDPOINT = '';
    try {
      assert.doesNotThrow(() => temporalSettings({ address: '127.0.0.1:7233', namespace: 'default' }));
    } finally {
      delete process.env.TEMPORAL_CODEC_ENDPOINT;
    }
  });
});
