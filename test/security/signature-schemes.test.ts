import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { ConfigError } from '../../src/errors';
import { signHubSignature } from '../../src/web/signature';
import { parseEcdsaPublicKeys } from '../../src/web/signature-schemes';
import { startWebServer } from '../../src/web/server';
import { WEBHOOK_SECRET } from '../support/system';
import { JSON_HEADERS, freshEvent, send, startLightWeb, type LightWeb } from './support';

/**
 * Each signature scheme at the HTTP level, against running web servers with a real
 * store: a valid signature is accepted (200, stored); a wrong key, a truncated
 * signature, another algorithm and a signature over a re-serialised body are
 * refused (401) and leave nothing behind.
 */

const SECOND_SECRET = 'second-webhook-secret-for-rotation-42';

const ec = (namedCurve: string) => generateKeyPairSync('ec', { namedCurve });
const p256 = ec('P-256');
const p384 = ec('P-384');
const otherP256 = ec('P-256');
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });

/** TALKDESK_ECDSA_PUBLIC_KEYS as an operator would write it: base64 SPKI DER and PEM with literal \n. */
const ECDSA_SPEC = [
  `td-2024:${p256.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`,
  `td-2025:${(p384.publicKey.export({ type: 'spki', format: 'pem' }) as string).trim().replace(/\n/g, '\\n')}`,
].join(',');

function ecdsaHex(key: KeyObject, raw: string, opts: { hash?: string; encoding?: 'der' | 'ieee-p1363' } = {}): string {
  return sign(opts.hash ?? 'sha512', Buffer.from(raw), { key, dsaEncoding: opts.encoding ?? 'der' }).toString('hex');
}

const ecdsaHeaders = (signature: string, keyId: string) => ({ 'X-Hub-Ecdsa-Signature': signature, 'X-Hub-Ecdsa-Signature-Id': keyId });

describe('security: callback signature schemes over HTTP', function () {
  this.timeout(60_000);
  let hmacOnly: LightWeb;
  let ecdsaOnly: LightWeb;
  let both: LightWeb;

  before(async () => {
    const keys = parseEcdsaPublicKeys(ECDSA_SPEC);
    // Default options: the scheme is hmac, as before the setting existed.
    hmacOnly = await startLightWeb({ webhookSecrets: [WEBHOOK_SECRET, SECOND_SECRET] });
    ecdsaOnly = await startLightWeb({ signatureSchemes: ['ecdsa'], ecdsaPublicKeys: keys });
    both = await startLightWeb({ signatureSchemes: ['hmac', 'ecdsa'], ecdsaPublicKeys: keys });
  });
  after(async () => {
    await hmacOnly?.close();
    await ecdsaOnly?.close();
    await both?.close();
  });

  /** Posts a fresh event (raw bytes `bodyOf(event)`) with `headers`; checks the status and what was stored. */
  async function post(
    server: LightWeb,
    headersFor: (raw: string, event: ReturnType<typeof freshEvent>) => Record<string, string>,
    expected: 200 | 401,
    bodyOf: (event: ReturnType<typeof freshEvent>) => string = (e) => JSON.stringify(e),
  ): Promise<void> {
    const event = freshEvent();
    const raw = bodyOf(event);
    const before = await server.inboxCount();
    const answer = await send(server.web.url, raw, { headers: { ...JSON_HEADERS, ...headersFor(raw, event) } });
    assert.equal(answer.status, expected, answer.text);
    if (expected === 200) {
      assert.equal(answer.json?.status, 'accepted');
      assert.equal((await server.store.inbox.get(event.id))?._id, event.id, 'the event is stored');
      assert.equal(await server.inboxCount(), before + 1);
    } else {
      assert.equal(answer.json?.error?.code, 'invalid_signature');
      assert.equal(await server.store.inbox.get(event.id), null, 'nothing stored');
      assert.equal(await server.inboxCount(), before, 'the inbox did not grow');
    }
  }

  describe('HMAC (x-hub-signature)', () => {
    it('accepts sha256 and sha512 under either of the configured secrets, and sha1 only when enabled', async () => {
      for (const secret of [WEBHOOK_SECRET, SECOND_SECRET]) {
        for (const alg of ['sha256', 'sha512'] as const) {
          await post(hmacOnly, (raw) => ({ 'x-hub-signature': signHubSignature(Buffer.from(raw), secret, alg) }), 200);
        }
        // sha1 is opt-in (CALLBACK_HMAC_ALGORITHMS); see production-safety.test.ts for the opt-in.
        await post(hmacOnly, (raw) => ({ 'x-hub-signature': signHubSignature(Buffer.from(raw), secret, 'sha1') }), 401);
      }
    });

    it('refuses a signature made with another key', async () => {
      await post(hmacOnly, (raw) => ({ 'x-hub-signature': signHubSignature(Buffer.from(raw), 'not-the-webhook-secret-000') }), 401);
      // A secret that is a prefix of the real one is another key too.
      await post(hmacOnly, (raw) => ({ 'x-hub-signature': signHubSignature(Buffer.from(raw), WEBHOOK_SECRET.slice(0, -1)) }), 401);
    });

    it('refuses a truncated signature', async () => {
      const cut = (n: number) => (raw: string) => ({ 'x-hub-signature': signHubSignature(Buffer.from(raw), WEBHOOK_SECRET).slice(0, n) });
      for (const n of [-2, -1, 'sha256='.length + 32, 'sha256='.length + 1, 'sha256='.length]) await post(hmacOnly, cut(n), 401);
      // A sha512 cut down to sha256's length is not a sha256.
      await post(
        hmacOnly,
        (raw) => ({
          'x-hub-signature': `sha256=${signHubSignature(Buffer.from(raw), WEBHOOK_SECRET, 'sha512').slice('sha512='.length, 'sha512='.length + 64)}`,
        }),
        401,
      );
    });

    it('refuses other algorithms and mislabelled ones', async () => {
      const mac = (alg: string, raw: string) => createHmac(alg, WEBHOOK_SECRET).update(raw).digest('hex');
      await post(hmacOnly, (raw) => ({ 'x-hub-signature': `sha384=${mac('sha384', raw)}` }), 401);
      await post(hmacOnly, (raw) => ({ 'x-hub-signature': `md5=${mac('md5', raw)}` }), 401);
      await post(hmacOnly, (raw) => ({ 'x-hub-signature': `sha512=${mac('sha256', raw)}` }), 401);
      await post(hmacOnly, (raw) => ({ 'x-hub-signature': `sha256=${mac('sha512', raw)}` }), 401);
      // A keyless digest of the body is not a MAC.
      await post(hmacOnly, (raw) => ({ 'x-hub-signature': `sha256=${createHmac('sha256', '').update(raw).digest('hex')}` }), 401);
      // A valid ECDSA signature counts for nothing while only hmac is enabled.
      await post(hmacOnly, (raw) => ecdsaHeaders(ecdsaHex(p256.privateKey, raw), 'td-2024'), 401);
    });

    it('refuses a signature over a re-serialised body instead of the raw bytes', async () => {
      // Sent pretty-printed, signed compact: same JSON, other bytes.
      await post(
        hmacOnly,
        (_raw, event) => ({ 'x-hub-signature': signHubSignature(Buffer.from(JSON.stringify(event)), WEBHOOK_SECRET) }),
        401,
        (e) => JSON.stringify(e, null, 2),
      );
      // Signed with keys reordered.
      await post(
        hmacOnly,
        (_raw, event) => ({
          'x-hub-signature': signHubSignature(
            Buffer.from(JSON.stringify(Object.fromEntries(Object.entries(event).reverse()))),
            WEBHOOK_SECRET,
          ),
        }),
        401,
      );
      // Signed with the unicode escapes decoded (what a parse and re-encode does to "\u00e9").
      await post(
        hmacOnly,
        (raw) => ({ 'x-hub-signature': signHubSignature(Buffer.from(JSON.stringify(JSON.parse(raw))), WEBHOOK_SECRET) }),
        401,
        (e) => JSON.stringify({ ...e, app_version_name: 'v\u00e9' }).replace('v\u00e9', 'v\\u00e9'),
      );
    });
  });

  describe('ECDSA (X-Hub-Ecdsa-Signature, X-Hub-Ecdsa-Signature-Id)', () => {
    it('accepts DER and IEEE-P1363 signatures over SHA-512 by either configured key', async () => {
      for (const encoding of ['der', 'ieee-p1363'] as const) {
        await post(ecdsaOnly, (raw) => ecdsaHeaders(ecdsaHex(p256.privateKey, raw, { encoding }), 'td-2024'), 200);
        await post(ecdsaOnly, (raw) => ecdsaHeaders(ecdsaHex(p384.privateKey, raw, { encoding }), 'td-2025'), 200);
      }
      await post(ecdsaOnly, (raw) => ecdsaHeaders(`sha512=${ecdsaHex(p256.privateKey, raw)}`, 'td-2024'), 200);
    });

    it('refuses a signature by another key, under the wrong key id, or an unknown or missing id', async () => {
      await post(ecdsaOnly, (raw) => ecdsaHeaders(ecdsaHex(otherP256.privateKey, raw), 'td-2024'), 401);
      await post(ecdsaOnly, (raw) => ecdsaHeaders(ecdsaHex(p256.privateKey, raw), 'td-2025'), 401);
      await post(ecdsaOnly, (raw) => ecdsaHeaders(ecdsaHex(p256.privateKey, raw), 'td-2099'), 401);
      await post(ecdsaOnly, (raw) => ecdsaHeaders(ecdsaHex(p256.privateKey, raw), '__proto__'), 401);
      await post(ecdsaOnly, (raw) => ({ 'X-Hub-Ecdsa-Signature': ecdsaHex(p256.privateKey, raw) }), 401);
      await post(ecdsaOnly, () => ({ 'X-Hub-Ecdsa-Signature-Id': 'td-2024' }), 401);
    });

    it('refuses a truncated signature', async () => {
      for (const encoding of ['der', 'ieee-p1363'] as const) {
        for (const cut of [(s: string) => s.slice(0, -2), (s: string) => s.slice(0, s.length / 2), (s: string) => s.slice(2)]) {
          await post(ecdsaOnly, (raw) => ecdsaHeaders(cut(ecdsaHex(p256.privateKey, raw, { encoding })), 'td-2024'), 401);
        }
      }
      await post(ecdsaOnly, () => ecdsaHeaders('', 'td-2024'), 401);
    });

    it('refuses other algorithms: SHA-256 or SHA-384 digests, RSA, and an HMAC while only ecdsa is enabled', async () => {
      await post(ecdsaOnly, (raw) => ecdsaHeaders(ecdsaHex(p256.privateKey, raw, { hash: 'sha256' }), 'td-2024'), 401);
      await post(ecdsaOnly, (raw) => ecdsaHeaders(ecdsaHex(p384.privateKey, raw, { hash: 'sha384' }), 'td-2025'), 401);
      await post(ecdsaOnly, (raw) => ecdsaHeaders(sign('sha512', Buffer.from(raw), rsa.privateKey).toString('hex'), 'td-2024'), 401);
      await post(ecdsaOnly, (raw) => ({ 'x-hub-signature': signHubSignature(Buffer.from(raw), WEBHOOK_SECRET) }), 401);
    });

    it('refuses a signature over a re-serialised body instead of the raw bytes', async () => {
      await post(
        ecdsaOnly,
        (_raw, event) => ecdsaHeaders(ecdsaHex(p256.privateKey, JSON.stringify(event)), 'td-2024'),
        401,
        (e) => JSON.stringify(e, null, 2),
      );
      await post(
        ecdsaOnly,
        (_raw, event) =>
          ecdsaHeaders(ecdsaHex(p256.privateKey, JSON.stringify(Object.fromEntries(Object.entries(event).reverse()))), 'td-2024'),
        401,
      );
    });
  });

  describe('both schemes enabled', () => {
    it('accepts an event that either scheme authenticates', async () => {
      await post(both, (raw) => ({ 'x-hub-signature': signHubSignature(Buffer.from(raw), WEBHOOK_SECRET) }), 200);
      await post(both, (raw) => ecdsaHeaders(ecdsaHex(p384.privateKey, raw), 'td-2025'), 200);
      // A wrong HMAC does not spoil a valid ECDSA signature, nor the other way round.
      await post(
        both,
        (raw) => ({ 'x-hub-signature': 'sha256=' + '0'.repeat(64), ...ecdsaHeaders(ecdsaHex(p256.privateKey, raw), 'td-2024') }),
        200,
      );
      await post(
        both,
        (raw) => ({ 'x-hub-signature': signHubSignature(Buffer.from(raw), WEBHOOK_SECRET), ...ecdsaHeaders('00', 'td-2024') }),
        200,
      );
    });

    it('refuses an event neither scheme authenticates', async () => {
      await post(
        both,
        (raw) => ({
          'x-hub-signature': signHubSignature(Buffer.from(raw), SECOND_SECRET),
          ...ecdsaHeaders(ecdsaHex(otherP256.privateKey, raw), 'td-2024'),
        }),
        401,
      );
      await post(both, () => ({}), 401);
    });

    it('names the headers it expects in the 401, and no secret', async () => {
      const answer = await send(both.web.url, JSON.stringify(freshEvent()), { headers: { ...JSON_HEADERS } });
      assert.equal(answer.status, 401);
      assert.match(answer.json?.error?.message ?? '', /x-hub-signature .* or X-Hub-Ecdsa-Signature .* X-Hub-Ecdsa-Signature-Id/);
      assert.ok(!answer.text.includes(WEBHOOK_SECRET));
    });
  });

  it('refuses to start with ecdsa enabled and no public keys', async () => {
    await assert.rejects(
      startWebServer({ ...({} as Parameters<typeof startWebServer>[0]), signatureSchemes: ['ecdsa'], ecdsaPublicKeys: new Map() }),
      (err: unknown) => err instanceof ConfigError && /TALKDESK_ECDSA_PUBLIC_KEYS/.test(err.message),
    );
  });
});
