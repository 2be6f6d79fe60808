import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { generateInstallationKeys, KEY_ALGORITHMS, privateKeyPem } from '../../src/simulator';

const EXPECTED = {
  ES256: { type: 'ec', curve: 'prime256v1' },
  ES384: { type: 'ec', curve: 'secp384r1' },
  ES512: { type: 'ec', curve: 'secp521r1' },
  PS256: { type: 'rsa', curve: undefined },
  PS384: { type: 'rsa', curve: undefined },
  PS512: { type: 'rsa', curve: undefined },
} as const;

describe('simulator keys', () => {
  for (const alg of KEY_ALGORITHMS) {
    it(`generates a usable ${alg} pair as base64 DER (PKCS#8 / SPKI)`, () => {
      const k = generateInstallationKeys(alg);
      assert.equal(k.key_algorithm, alg);
      assert.match(k.key_id, /^[0-9a-f]{32}$/);
      assert.doesNotMatch(k.private_key, /BEGIN|\n/);
      assert.match(k.private_key, /^[A-Za-z0-9+/]+=*$/);
      const priv = createPrivateKey({ key: Buffer.from(k.private_key, 'base64'), format: 'der', type: 'pkcs8' });
      const pub = createPublicKey({ key: Buffer.from(k.public_key, 'base64'), format: 'der', type: 'spki' });
      assert.equal(priv.asymmetricKeyType, EXPECTED[alg].type);
      assert.equal(priv.asymmetricKeyDetails?.namedCurve, EXPECTED[alg].curve);
      // The pair matches: a signature by one verifies with the other.
      const data = Buffer.from('hello');
      assert.ok(verify('sha256', data, pub, sign('sha256', data, priv)));
      assert.match(privateKeyPem(k.private_key), /^-----BEGIN PRIVATE KEY-----\n[\s\S]+\n-----END PRIVATE KEY-----$/);
    });
  }

  it('issues a fresh key id and key each time', () => {
    const a = generateInstallationKeys('ES256');
    const b = generateInstallationKeys('ES256');
    assert.notEqual(a.key_id, b.key_id);
    assert.notEqual(a.private_key, b.private_key);
  });

  it('refuses an unknown algorithm', () => {
    assert.throws(() => generateInstallationKeys('RS256' as never), /unsupported/);
  });
});
