import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { generateKeyPairSync } from 'node:crypto';
import path from 'node:path';
import { loadEnv } from '../../src/config/env';
import { PROJECT_ROOT } from '../../src/local/tools';
import { connectDatabase } from '../../src/store';
import { signHubSignature } from '../../src/web/signature';
import { mongoUri, temporalDevEnv, uniqueDbName } from '../support/servers';
import { startRefusingTemporal } from '../support/refusing-temporal';
import { WEBHOOK_SECRET } from '../support/system';
import { eventually } from '../support/waits';
import { BASE_ENV, configError, JSON_HEADERS, freshEvent, send } from './support';

/**
 * The security settings: CALLBACK_SIGNATURE_SCHEMES, TALKDESK_ECDSA_PUBLIC_KEYS,
 * CALLBACK_RATE_LIMIT_PER_MINUTE are checked at start-up with messages that name
 * the variable (and never quote key material); DEV_SKIP_SIGNATURE_CHECK makes the
 * real web process log a warning at start-up.
 */

const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const p256Der = p256.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
const p256Pem = (p256.publicKey.export({ type: 'spki', format: 'pem' }) as string).trim();

describe('security: signature and limit settings', function () {
  this.timeout(60_000);

  describe('parsing (src/config/env.ts)', () => {
    it('defaults to hmac only, 600 requests a minute, no ECDSA keys', () => {
      const env = loadEnv(BASE_ENV);
      assert.deepEqual(env.CALLBACK_SIGNATURE_SCHEMES, ['hmac']);
      assert.equal(env.TALKDESK_ECDSA_PUBLIC_KEYS, undefined);
      assert.equal(env.CALLBACK_RATE_LIMIT_PER_MINUTE, 600);
      assert.equal(env.DEV_SKIP_SIGNATURE_CHECK, false);
    });

    it('reads several schemes, several webhook secrets and several ECDSA keys (DER base64 and PEM, \\n escaped or not)', () => {
      const env = loadEnv({
        ...BASE_ENV,
        TALKDESK_WEBHOOK_SECRET: `${WEBHOOK_SECRET}, another-secret-0123456789`,
        CALLBACK_SIGNATURE_SCHEMES: 'ecdsa, hmac,ecdsa',
        TALKDESK_ECDSA_PUBLIC_KEYS: `k-der:${p256Der}, k-pem:${p256Pem.replace(/\n/g, '\\n')},k-raw-pem:${p256Pem}`,
        CALLBACK_RATE_LIMIT_PER_MINUTE: '0',
      });
      assert.deepEqual(env.CALLBACK_SIGNATURE_SCHEMES, ['ecdsa', 'hmac']);
      assert.deepEqual(env.TALKDESK_WEBHOOK_SECRET, [WEBHOOK_SECRET, 'another-secret-0123456789']);
      assert.deepEqual([...(env.TALKDESK_ECDSA_PUBLIC_KEYS?.keys() ?? [])], ['k-der', 'k-pem', 'k-raw-pem']);
      for (const key of env.TALKDESK_ECDSA_PUBLIC_KEYS?.values() ?? []) assert.equal(key.asymmetricKeyType, 'ec');
      assert.equal(env.CALLBACK_RATE_LIMIT_PER_MINUTE, 0, '0 turns the limit off');
    });

    it('refuses unknown schemes and an empty list, naming CALLBACK_SIGNATURE_SCHEMES', () => {
      assert.match(
        configError({ CALLBACK_SIGNATURE_SCHEMES: 'hmac,rsa' }),
        /CALLBACK_SIGNATURE_SCHEMES: must be a comma list of hmac, ecdsa/,
      );
      assert.match(configError({ CALLBACK_SIGNATURE_SCHEMES: ' , ' }), /CALLBACK_SIGNATURE_SCHEMES: must name at least one scheme/);
    });

    it('requires TALKDESK_ECDSA_PUBLIC_KEYS when ecdsa is enabled', () => {
      for (const schemes of ['ecdsa', 'hmac,ecdsa']) {
        assert.match(
          configError({ CALLBACK_SIGNATURE_SCHEMES: schemes }),
          /TALKDESK_ECDSA_PUBLIC_KEYS: required when CALLBACK_SIGNATURE_SCHEMES includes ecdsa/,
        );
        assert.match(
          configError({ CALLBACK_SIGNATURE_SCHEMES: schemes, TALKDESK_ECDSA_PUBLIC_KEYS: ' ' }),
          /TALKDESK_ECDSA_PUBLIC_KEYS: required/,
        );
      }
    });

    it('refuses keys that are not EC public keys, without quoting them', () => {
      const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const rsaDer = rsa.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
      const privatePem = (p256.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string).trim();
      const cases: [string, RegExp][] = [
        [`k1:${rsaDer}`, /entry 1: is a rsa key, not an EC key/],
        [`k1:${privatePem}`, /entry 1: is a private key; give the public key/],
        [`k1:${p256Der},k1:${p256Der}`, /entry 2: repeats a key id/],
        [p256Der, /entry 1: has no key id/],
        [`k1:${p256Der.slice(0, 60)}`, /entry 1: is not a readable public key/],
        [`k1:not base64!`, /entry 1: is neither PEM nor base64/],
        [`bad id:${p256Der}`, /entry 1: key id must be/],
        [`k1:${p256Der},`, /entry 2: is empty/],
      ];
      for (const [spec, pattern] of cases) {
        const message = configError({ CALLBACK_SIGNATURE_SCHEMES: 'ecdsa', TALKDESK_ECDSA_PUBLIC_KEYS: spec });
        assert.match(message, /TALKDESK_ECDSA_PUBLIC_KEYS: /);
        assert.match(message, pattern);
        for (const material of [rsaDer, p256Der, privatePem])
          assert.ok(!message.includes(material.slice(30, 70)), 'no key material in the message');
      }
    });

    it('refuses a negative or fractional rate limit, naming CALLBACK_RATE_LIMIT_PER_MINUTE', () => {
      for (const v of ['-1', '1.5', 'lots'])
        assert.match(configError({ CALLBACK_RATE_LIMIT_PER_MINUTE: v }), /CALLBACK_RATE_LIMIT_PER_MINUTE: /);
    });
  });

  describe('the web process (node dist/src/entry/web.js)', () => {
    interface Running {
      child: ChildProcess;
      lines: string[];
      stderr: () => string;
      exited: Promise<number | null>;
      dbName: string;
    }

    async function webProcess(extra: Record<string, string>): Promise<Running> {
      const temporal = await temporalDevEnv();
      const dbName = uniqueDbName('cfg');
      const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'dist/src/entry/web.js')], {
        env: {
          PATH: process.env.PATH ?? '',
          ...BASE_ENV,
          HOST: '127.0.0.1',
          PORT: '0',
          MONGODB_URI: await mongoUri(),
          MONGODB_DB: dbName,
          TEMPORAL_ADDRESS: temporal.address,
          TEMPORAL_TASK_QUEUE: `cfg-${Date.now()}`,
          LOG_LEVEL: 'info',
          ADMIN_PORT: '0',
          ...extra,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const lines: string[] = [];
      let stderr = '';
      let buffered = '';
      child.stdout?.on('data', (d: Buffer) => {
        buffered += d.toString();
        const parts = buffered.split('\n');
        buffered = parts.pop() ?? '';
        lines.push(...parts.filter((l) => l.trim() !== ''));
      });
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      return { child, lines, stderr: () => stderr, exited, dbName };
    }

    async function listening(p: Running): Promise<{ url: string; index: number; line: Record<string, unknown> }> {
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        const index = p.lines.findIndex((l) => l.includes('"web server listening"'));
        if (index >= 0) {
          const line = JSON.parse(p.lines[index] ?? '{}') as Record<string, unknown>;
          return { url: new URL(String(line.callbackUrl)).origin, index, line };
        }
        if (p.child.exitCode !== null) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.fail(`the web process did not start: ${p.stderr()} ${p.lines.join('\n')}`);
    }

    async function stop(p: Running): Promise<void> {
      if (p.child.exitCode === null) p.child.kill('SIGTERM');
      const timer = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
      await p.exited;
      clearTimeout(timer);
      const db = await connectDatabase(await mongoUri(), p.dbName);
      await db.db.dropDatabase().catch(() => undefined);
      await db.close();
    }

    it('logs a warning at start-up when DEV_SKIP_SIGNATURE_CHECK is on, and then accepts unsigned events', async () => {
      const p = await webProcess({ DEV_SKIP_SIGNATURE_CHECK: 'true' });
      try {
        const { url, index } = await listening(p);
        const warnings = p.lines
          .slice(0, index)
          .map((l) => JSON.parse(l) as { level?: string; msg?: string })
          .filter((l) => l.level === 'warn' && /DEV_SKIP_SIGNATURE_CHECK is on: callbacks are NOT authenticated/.test(l.msg ?? ''));
        assert.equal(warnings.length, 1, `one warning before listening: ${p.lines.join('\n')}`);
        const answer = await send(url, JSON.stringify(freshEvent()), { headers: { ...JSON_HEADERS } });
        assert.ok(answer.status === 200 || answer.status === 202, `an unsigned event is accepted: ${answer.text}`);
      } finally {
        await stop(p);
      }
    });

    it('logs no such warning by default, refuses unsigned events, and logs the schemes it accepts', async () => {
      const p = await webProcess({ CALLBACK_SIGNATURE_SCHEMES: 'hmac,ecdsa', TALKDESK_ECDSA_PUBLIC_KEYS: `td-1:${p256Der}` });
      try {
        const { url, line } = await listening(p);
        assert.ok(!p.lines.some((l) => l.includes('DEV_SKIP_SIGNATURE_CHECK')), 'no warning');
        assert.deepEqual(line.signatureSchemes, ['hmac', 'ecdsa']);
        assert.deepEqual(line.ecdsaKeyIds, ['td-1']);
        assert.equal(line.rateLimitPerMinute, 600);
        const answer = await send(url, JSON.stringify(freshEvent()), { headers: { ...JSON_HEADERS } });
        assert.equal(answer.status, 401);
      } finally {
        await stop(p);
      }
    });

    it('a Temporal that refuses its API key: the web starts (events are stored, handed over later) and logs an error naming TEMPORAL_API_KEY (not "does not answer")', async () => {
      const refusing = await startRefusingTemporal();
      const key = 'tk-web-bad-0123456789abcdef';
      const p = await webProcess({ TEMPORAL_ADDRESS: refusing.address, TEMPORAL_API_KEY: key, TEMPORAL_TLS: 'false' });
      try {
        const { url } = await listening(p);
        const error = await eventually('the error line', async () =>
          p.lines.map((l) => JSON.parse(l) as { level?: string; msg?: string }).find((l) => l.level === 'error'),
        );
        assert.match(error.msg ?? '', /refused this process's credentials for namespace default \(TEMPORAL_API_KEY/);
        assert.ok(!p.lines.some((l) => l.includes('does not answer yet')), 'not reported as an outage');
        // An event is stored; its failed hand-over is logged with the cause and the setting to check.
        const raw = JSON.stringify(freshEvent());
        const answer = await send(url, raw, {
          headers: { ...JSON_HEADERS, 'x-hub-signature': signHubSignature(Buffer.from(raw), WEBHOOK_SECRET) },
        });
        assert.equal(answer.status, 202, answer.text);
        const handOver = await eventually('the hand-over warning', async () =>
          p.lines
            .map((l) => JSON.parse(l) as { msg?: string; grpcStatus?: string; check?: string })
            .find((l) => l.msg === 'stored; Temporal unavailable, the dispatcher will hand it over'),
        );
        assert.equal(handOver.grpcStatus, 'UNAUTHENTICATED');
        assert.match(handOver.check ?? '', /TEMPORAL_API_KEY .*TEMPORAL_NAMESPACE/);
        assert.ok(!p.lines.join('\n').includes(key) && !p.stderr().includes(key), 'the key is never logged');
      } finally {
        await stop(p);
        await refusing.close();
      }
    });

    it('exits 2 at start-up, naming TALKDESK_ECDSA_PUBLIC_KEYS, when ecdsa is enabled without keys', async () => {
      const p = await webProcess({ CALLBACK_SIGNATURE_SCHEMES: 'ecdsa' });
      const code = await p.exited;
      assert.equal(code, 2);
      assert.match(p.stderr(), /TALKDESK_ECDSA_PUBLIC_KEYS: required when CALLBACK_SIGNATURE_SCHEMES includes ecdsa/);
    });

    it('exits 2 naming PORT, or ADMIN_PORT, when another process holds it', async () => {
      const holder = net.createServer();
      await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
      const { port } = holder.address() as net.AddressInfo;
      try {
        for (const name of ['PORT', 'ADMIN_PORT']) {
          const p = await webProcess({ [name]: String(port) });
          try {
            assert.equal(await p.exited, 2, p.stderr());
            assert.match(
              p.stderr(),
              new RegExp(
                `${name}=${port}: cannot listen on 127\\.0\\.0\\.1:${port} \\(EADDRINUSE: another process holds it\\)\\. Set ${name} to a free port`,
              ),
            );
          } finally {
            await stop(p);
          }
        }
      } finally {
        await new Promise<void>((resolve) => holder.close(() => resolve()));
      }
    });
  });
});
