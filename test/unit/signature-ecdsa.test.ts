import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { verifyEcdsaSignature } from '../../src/web/signature';

const RAW = Buffer.from('{"id":"evt-1","type":"app.uninstalled"}');

function ecKeys(namedCurve: string) {
  return generateKeyPairSync('ec', { namedCurve });
}

describe('web/signature ECDSA', () => {
  const p256 = ecKeys('P-256');
  const p521 = ecKeys('P-521');
  const other = ecKeys('P-256');
  const keys = new Map<string, KeyObject | string>([
    ['key-1', p256.publicKey],
    ['key-pem', p521.publicKey.export({ type: 'spki', format: 'pem' }).toString()],
    ['key-b64', p256.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')],
  ]);
  const sig = (privateKey: KeyObject, dsaEncoding: 'der' | 'ieee-p1363', body = RAW) =>
    sign('sha512', body, { key: privateKey, dsaEncoding }).toString('hex');

  it('accepts DER and IEEE-P1363 signatures over SHA-512, with KeyObject, PEM and base64 keys', () => {
    for (const enc of ['der', 'ieee-p1363'] as const) {
      assert.equal(verifyEcdsaSignature(RAW, sig(p256.privateKey, enc), 'key-1', keys), true, enc);
      assert.equal(verifyEcdsaSignature(RAW, sig(p521.privateKey, enc), 'key-pem', keys), true, enc);
      assert.equal(verifyEcdsaSignature(RAW, sig(p256.privateKey, enc).toUpperCase(), 'key-b64', keys), true, enc);
      assert.equal(verifyEcdsaSignature(RAW, `sha512=${sig(p256.privateKey, enc)}`, 'key-1', keys), true, enc);
    }
  });

  it('refuses a signature by another key, of another body, or with another hash', () => {
    assert.equal(verifyEcdsaSignature(RAW, sig(other.privateKey, 'der'), 'key-1', keys), false);
    assert.equal(verifyEcdsaSignature(RAW, sig(p256.privateKey, 'der'), 'key-pem', keys), false);
    assert.equal(verifyEcdsaSignature(RAW, sig(p256.privateKey, 'der', Buffer.from('{}')), 'key-1', keys), false);
    const sha256 = sign('sha256', RAW, p256.privateKey).toString('hex');
    assert.equal(verifyEcdsaSignature(RAW, sha256, 'key-1', keys), false);
  });

  it('refuses an unknown key id, a missing header or garbage', () => {
    const good = sig(p256.privateKey, 'der');
    assert.equal(verifyEcdsaSignature(RAW, good, 'key-9', keys), false);
    assert.equal(verifyEcdsaSignature(RAW, good, undefined, keys), false);
    assert.equal(verifyEcdsaSignature(RAW, undefined, 'key-1', keys), false);
    assert.equal(verifyEcdsaSignature(RAW, good, '__proto__', keys), false);
    for (const garbage of ['', 'zz', good.slice(1), `${good}00`, '00'.repeat(300), 'not hex at all']) {
      assert.equal(verifyEcdsaSignature(RAW, garbage, 'key-1', keys), false, garbage.slice(0, 20));
    }
  });

  it('refuses keys that are not EC public keys or do not parse', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const odd = new Map<string, KeyObject | string>([
      ['rsa', rsa.publicKey],
      ['junk', 'not a key'],
      ['pem-junk', '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----'],
    ]);
    const rsaSig = sign('sha512', RAW, rsa.privateKey).toString('hex');
    assert.equal(verifyEcdsaSignature(RAW, rsaSig, 'rsa', odd), false);
    assert.equal(verifyEcdsaSignature(RAW, sig(p256.privateKey, 'der'), 'junk', odd), false);
    assert.equal(verifyEcdsaSignature(RAW, sig(p256.privateKey, 'der'), 'pem-junk', odd), false);
  });

  it('never throws on random signatures and ids (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 300 }), fc.stringMatching(/^[0-9a-f]{0,300}$/)),
        fc.constantFrom('key-1', 'key-pem', 'key-b64', 'nope'),
        (s, id) => {
          assert.equal(verifyEcdsaSignature(RAW, s, id, keys), false);
        },
      ),
      { numRuns: 500 },
    );
  });
});
