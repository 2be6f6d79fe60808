import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { createClientAssertion, TALKDESK_KEY_ALGORITHMS, type TalkdeskKeyAlgorithm } from '../../src/talkdesk/assertion';
import { ClientAssertionError } from '../../src/talkdesk/errors';
import { testKey } from './stub';

const TOKEN_URL = 'https://starship.talkdeskid.com/oauth/token';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function input(algorithm: TalkdeskKeyAlgorithm, privateKey = testKey(algorithm).privateKeyBase64Der) {
  return { clientId: 'client-123', keyId: 'kid-456', algorithm, privateKey, tokenUrl: TOKEN_URL };
}

describe('talkdesk/assertion', () => {
  for (const algorithm of TALKDESK_KEY_ALGORITHMS) {
    it(`signs a client assertion with ${algorithm} that verifies against the public key`, async () => {
      const now = new Date('2030-01-02T03:04:05.678Z');
      const jwt = await createClientAssertion({ ...input(algorithm), now });
      const { payload, protectedHeader } = await jwtVerify(jwt, testKey(algorithm).publicKey, {
        algorithms: [algorithm],
        audience: TOKEN_URL,
        issuer: 'client-123',
        subject: 'client-123',
        currentDate: now,
      });
      assert.deepEqual(protectedHeader, { alg: algorithm, kid: 'kid-456', typ: 'JWT' });
      const iat = Math.floor(now.getTime() / 1000);
      assert.equal(payload.iat, iat);
      assert.equal(payload.exp, iat + 300);
      assert.equal(payload.aud, TOKEN_URL);
      assert.match(String(payload.jti), UUID);
      assert.deepEqual(Object.keys(payload).sort(), ['aud', 'exp', 'iat', 'iss', 'jti', 'sub']);
    });
  }

  it('accepts the key as base64 DER, PEM, base64 PEM and PEM with literal \\n', async () => {
    const key = testKey('ES256');
    const forms = [
      key.privateKeyBase64Der,
      key.privateKeyPem,
      Buffer.from(key.privateKeyPem).toString('base64'),
      key.privateKeyPem.replace(/\n/g, '\\n'),
      key.privateKeyBase64Der.replace(/(.{64})/g, '$1\n'),
    ];
    for (const privateKey of forms) {
      const jwt = await createClientAssertion({ ...input('ES256', privateKey), now: Date.now() });
      await jwtVerify(jwt, key.publicKey, { audience: TOKEN_URL });
    }
  });

  it('uses a fresh jti each time', async () => {
    const a = await createClientAssertion(input('ES256'));
    const b = await createClientAssertion(input('ES256'));
    const { payload: pa } = await jwtVerify(a, testKey('ES256').publicKey);
    const { payload: pb } = await jwtVerify(b, testKey('ES256').publicKey);
    assert.notEqual(pa.jti, pb.jti);
    assert.equal(decodeProtectedHeader(a).kid, 'kid-456');
  });

  it('refuses a key that does not fit the algorithm, naming no key material', async () => {
    const cases: [TalkdeskKeyAlgorithm, string][] = [
      ['ES384', testKey('ES256').privateKeyBase64Der],
      ['PS256', testKey('ES256').privateKeyBase64Der],
      ['ES256', testKey('PS256').privateKeyBase64Der],
    ];
    for (const [algorithm, privateKey] of cases) {
      await assert.rejects(createClientAssertion(input(algorithm, privateKey)), (err: unknown) => {
        assert.ok(err instanceof ClientAssertionError);
        assert.ok(!err.message.includes(privateKey.slice(0, 20)));
        return true;
      });
    }
  });

  it('refuses an unreadable key and an unknown algorithm', async () => {
    const garbage = 'c2VjcmV0LW5vdC1hLWtleQ=='; // base64("secret-not-a-key")
    await assert.rejects(createClientAssertion(input('ES256', garbage)), (err: unknown) => {
      assert.ok(err instanceof ClientAssertionError);
      assert.ok(!JSON.stringify(err).includes(garbage));
      assert.match(err.message, /private_key/);
      return true;
    });
    await assert.rejects(createClientAssertion(input('ES256', 'PRIVATE_KEY with spaces!')), ClientAssertionError);
    await assert.rejects(createClientAssertion(input('HS256' as TalkdeskKeyAlgorithm)), /key algorithm must be one of/);
  });
  it('refuses an RSA key under 2048 bits (RFC 7518), as jose did', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const der = privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64');
    await assert.rejects(createClientAssertion(input('PS256', der)), (err: unknown) => {
      assert.ok(err instanceof ClientAssertionError);
      assert.match(err.message, /2048 bits/);
      return true;
    });
  });
});
