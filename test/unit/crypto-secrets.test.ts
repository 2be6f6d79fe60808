import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { ConfigError } from '../../src/errors';
import {
  decryptJson,
  encryptJson,
  generateKeySpec,
  needsReencryption,
  parseKeyring,
  reencrypt,
  rebind,
  SecretDecryptError,
  type EncryptedBlob,
  type SecretContext,
} from '../../src/crypto/secrets';
import { legacyBlob } from '../support/legacy-secrets';

const INSTALLATION: SecretContext = { installationId: 'inst-0001', collection: 'credentials', field: 'secret', clientId: 'client-1' };
const at = (installationId: string): SecretContext => ({ ...INSTALLATION, installationId });
const SECRET = { clientSecret: 'very-secret-value-123', privateKey: 'MIGHAgEAMBMGByq' };

/** Flips one bit of a base64 field. */
function flip(b64: string, byte = 0): string {
  const buf = Buffer.from(b64, 'base64');
  buf[byte] = (buf[byte] ?? 0) ^ 0x01;
  return buf.toString('base64');
}

describe('crypto/secrets keyring', () => {
  it('accepts base64, url-safe base64 (with or without padding) and hex keys', () => {
    const key = randomBytes(32);
    const std = key.toString('base64');
    const url = key.toString('base64url');
    for (const text of [std, std.replace(/=$/, ''), url, `${url}=`, key.toString('hex'), key.toString('hex').toUpperCase()]) {
      const ring = parseKeyring(`a:${text}`);
      assert.equal(ring.currentKid, 'a');
      assert.deepEqual(ring.key('a'), key);
    }
  });

  it('gives a bare key the id k1 and makes the first entry current', () => {
    assert.equal(parseKeyring(randomBytes(32).toString('base64')).currentKid, 'k1');
    const ring = parseKeyring(` new:${randomBytes(32).toString('hex')} , old:${randomBytes(32).toString('base64')} `);
    assert.equal(ring.currentKid, 'new');
    assert.deepEqual(ring.kids, ['new', 'old']);
  });

  it('accepts a long id of letters and dashes (decodable as base64, but not a hex key)', () => {
    const id = 'appconnect-production-secrets-2026-01-a-key';
    assert.equal(id.length, 43);
    assert.equal(parseKeyring(`${id}:${randomBytes(32).toString('base64')}`).currentKid, id);
  });

  it('round-trips generateKeySpec', () => {
    const spec = generateKeySpec('k7');
    assert.match(spec, /^k7:[A-Za-z0-9+/]{43}=$/);
    assert.equal(parseKeyring(spec).currentKid, 'k7');
    assert.equal(parseKeyring(generateKeySpec()).currentKid, 'k1');
    assert.throws(() => generateKeySpec('bad id'), ConfigError);
  });

  const good = randomBytes(32).toString('base64');
  const malformed: Array<[string, string]> = [
    ['empty', ''],
    ['short key', `k1:${randomBytes(16).toString('base64')}`],
    ['long key', `k1:${randomBytes(48).toString('base64')}`],
    ['63 hex chars', `k1:${randomBytes(32).toString('hex').slice(1)}`],
    ['not base64', `k1:${'!'.repeat(44)}`],
    ['mixed alphabets', `k1:${'+_'.repeat(21)}A=`],
    ['bad id', `b@d:${good}`],
    ['empty id', `:${good}`],
    ['empty entry', `k1:${good},`],
    ['duplicate id', `k1:${good},k1:${randomBytes(32).toString('base64')}`],
    ['key where the id should be', `${good}:abc`],
    // Two hex keys joined by ":" instead of ",": the first, a valid id by its characters, would be written in clear.
    ['two hex keys joined by ":"', `${randomBytes(32).toString('hex')}:${randomBytes(32).toString('hex')}`],
  ];
  for (const [label, spec] of malformed) {
    it(`refuses a malformed SECRETS_KEY (${label}) without echoing it`, () => {
      assert.throws(
        () => parseKeyring(spec),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.match(err.message, /SECRETS_KEY/);
          assert.match(err.message, /<key-id>:<key>/);
          for (const piece of spec.split(/[,:]/).filter((p) => p.length >= 8)) {
            assert.ok(!err.message.includes(piece), `message echoes part of the spec: ${err.message}`);
          }
          return true;
        },
      );
    });
  }

  it('never shows key bytes when logged or serialised', () => {
    const key = randomBytes(32);
    const ring = parseKeyring(`k1:${key.toString('base64')}`);
    for (const shown of [JSON.stringify(ring), inspect(ring, { depth: 5, showHidden: true }), String(Object.values(ring))]) {
      assert.ok(!shown.includes(key.toString('base64')) && !shown.includes(key.toString('hex')), shown);
    }
    assert.deepEqual(JSON.parse(JSON.stringify(ring)), { currentKid: 'k1', kids: ['k1'] });
  });
});

describe('crypto/secrets encryption', () => {
  const ring = parseKeyring(generateKeySpec('k1'));

  it('round-trips JSON values and hides the plaintext', () => {
    const blob = encryptJson(ring, SECRET, INSTALLATION);
    assert.equal(blob.v, 2);
    assert.equal(blob.kid, 'k1');
    assert.equal(Buffer.from(blob.iv, 'base64').length, 12);
    assert.equal(Buffer.from(blob.tag, 'base64').length, 16);
    assert.ok(!JSON.stringify(blob).includes(SECRET.clientSecret));
    assert.deepEqual(decryptJson(ring, blob, INSTALLATION), SECRET);
    for (const v of [null, 0, 'text', [1, 'two'], { nested: { deep: true } }]) {
      assert.deepEqual(decryptJson(ring, encryptJson(ring, v, INSTALLATION), INSTALLATION), v);
    }
  });

  it('uses a fresh IV every time', () => {
    const a = encryptJson(ring, SECRET, INSTALLATION);
    const b = encryptJson(ring, SECRET, INSTALLATION);
    assert.notEqual(a.iv, b.iv);
    assert.notEqual(a.ct, b.ct);
  });

  it('refuses values without a JSON form', () => {
    assert.throws(() => encryptJson(ring, undefined, INSTALLATION), /no JSON form/);
  });

  const expectDecryptError = (blob: EncryptedBlob, aad: SecretContext = INSTALLATION, keyring = ring) =>
    assert.throws(
      () => decryptJson(keyring, blob, aad),
      (err: unknown) => {
        assert.ok(err instanceof SecretDecryptError);
        assert.equal(err.kid, typeof blob.kid === 'string' ? blob.kid : '?');
        assert.ok(err.message.includes(String(blob.kid)), err.message);
        assert.ok(!err.message.includes(SECRET.clientSecret));
        return true;
      },
    );

  it('detects tampering with ciphertext, tag or iv', () => {
    const blob = encryptJson(ring, SECRET, INSTALLATION);
    expectDecryptError({ ...blob, ct: flip(blob.ct, 3) });
    expectDecryptError({ ...blob, tag: flip(blob.tag) });
    expectDecryptError({ ...blob, iv: flip(blob.iv) });
    // A truncated tag must not be accepted (GCM would otherwise allow short tags).
    expectDecryptError({ ...blob, tag: Buffer.from(blob.tag, 'base64').subarray(0, 4).toString('base64') });
    expectDecryptError({ ...blob, ct: 'not base64!' });
    expectDecryptError({ ...blob, v: 1 });
    expectDecryptError({ ...blob, v: 3 as unknown as 2 });
  });

  it('fails for a blob moved to another installation (aad)', () => {
    const blob = encryptJson(ring, SECRET, INSTALLATION);
    expectDecryptError(blob, at('inst-0002'));
    expectDecryptError(blob, at(''));
  });

  it('fails for an unknown key id, naming it', () => {
    const blob = encryptJson(ring, SECRET, INSTALLATION);
    expectDecryptError({ ...blob, kid: 'gone' });
    expectDecryptError(blob, INSTALLATION, parseKeyring(generateKeySpec('k1')));
  });

  it('round-trips any JSON value under any aad (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.string({ maxLength: 64 }), (value, id) => {
        const expected: unknown = JSON.parse(JSON.stringify(value));
        assert.deepEqual(decryptJson(ring, encryptJson(ring, value, at(id)), at(id)), expected);
      }),
      { numRuns: 200 },
    );
  });
});

describe('crypto/secrets key rotation', () => {
  const oldSpec = generateKeySpec('2024');
  const oldRing = parseKeyring(oldSpec);
  const newRing = parseKeyring(`${generateKeySpec('2025')},${oldSpec}`);

  it('decrypts an old blob with the new keyring and re-encrypts it under the current key', () => {
    const oldBlob = encryptJson(oldRing, SECRET, INSTALLATION);
    assert.equal(needsReencryption(oldRing, oldBlob), false);
    assert.equal(needsReencryption(newRing, oldBlob), true);
    assert.deepEqual(decryptJson(newRing, oldBlob, INSTALLATION), SECRET);

    const moved = reencrypt(newRing, oldBlob, INSTALLATION);
    assert.equal(moved.kid, '2025');
    assert.equal(needsReencryption(newRing, moved), false);
    assert.deepEqual(decryptJson(newRing, moved, INSTALLATION), SECRET);
    // The old keyring cannot read what the new key wrote.
    assert.throws(() => decryptJson(oldRing, moved, INSTALLATION), SecretDecryptError);
  });

  it('re-encryption keeps the aad binding', () => {
    const oldBlob = encryptJson(oldRing, SECRET, INSTALLATION);
    assert.throws(() => reencrypt(newRing, oldBlob, at('inst-other')), SecretDecryptError);
    const moved = reencrypt(newRing, oldBlob, INSTALLATION);
    assert.throws(() => decryptJson(newRing, moved, at('inst-other')), SecretDecryptError);
  });
});

describe('crypto/secrets binding (AAD)', () => {
  const ring = parseKeyring(`${generateKeySpec('k2')},${generateKeySpec('k1')}`);

  it('binds the installation, the collection, the field, the client id and the key id', () => {
    const blob = encryptJson(ring, SECRET, INSTALLATION);
    assert.deepEqual(decryptJson(ring, blob, { ...INSTALLATION }), SECRET);
    const elsewhere: [string, SecretContext][] = [
      ['another installation', { ...INSTALLATION, installationId: 'inst-0002' }],
      ['another collection', { ...INSTALLATION, collection: 'tokens' }],
      ['another field', { ...INSTALLATION, field: 'token' }],
      ['another credential set', { ...INSTALLATION, clientId: 'client-2' }],
      ['no credential set', { installationId: INSTALLATION.installationId, collection: 'credentials', field: 'secret' }],
      // The parts are encoded unambiguously: moving text between them changes the binding.
      ['parts shifted', { ...INSTALLATION, installationId: 'inst-0001","credentials', collection: 'secret' }],
    ];
    for (const [what, context] of elsewhere) {
      assert.throws(() => decryptJson(ring, blob, context), SecretDecryptError, what);
    }
    // Relabelled with the other key id of the keyring: refused even if that key were the one used.
    assert.throws(() => decryptJson(ring, { ...blob, kid: 'k1' }, INSTALLATION), SecretDecryptError);
  });

  it('a token and a credential secret of one set cannot stand in for each other', () => {
    const token = encryptJson(ring, 'access-token-value', { ...INSTALLATION, collection: 'tokens', field: 'token' });
    assert.throws(() => decryptJson(ring, token, INSTALLATION), SecretDecryptError);
  });

  it('still reads a version 1 blob (installation id only) until it is re-encrypted, and re-encryption writes version 2', () => {
    const old = legacyBlob(ring, 'k1', SECRET, INSTALLATION.installationId);
    assert.equal(old.v, 1);
    assert.deepEqual(decryptJson(ring, old, INSTALLATION), SECRET);
    assert.deepEqual(decryptJson(ring, old, { ...INSTALLATION, field: 'other' }), SECRET, 'the old binding knew no field');
    assert.throws(() => decryptJson(ring, old, at('inst-0002')), SecretDecryptError, 'but it did bind the installation');
    assert.equal(needsReencryption(ring, old), true);
    const current = encryptJson(ring, SECRET, INSTALLATION);
    assert.equal(needsReencryption(ring, current), false);
    assert.equal(
      needsReencryption(ring, legacyBlob(ring, 'k2', SECRET, INSTALLATION.installationId)),
      true,
      'version 1 under the current key too',
    );
    const moved = reencrypt(ring, old, INSTALLATION);
    assert.equal(moved.v, 2);
    assert.equal(moved.kid, 'k2');
    assert.deepEqual(decryptJson(ring, moved, INSTALLATION), SECRET);
    assert.throws(() => decryptJson(ring, moved, { ...INSTALLATION, field: 'other' }), SecretDecryptError);
  });

  it('rebinds a blob from one place to another (an event credential imported into the credential store)', () => {
    const inbox: SecretContext = { ...INSTALLATION, collection: 'inbox', field: 'credentials' };
    const blob = encryptJson(ring, SECRET, inbox);
    assert.throws(() => decryptJson(ring, blob, INSTALLATION), SecretDecryptError, 'copying the blob is not enough');
    const imported = rebind(ring, blob, inbox, INSTALLATION);
    assert.deepEqual(decryptJson(ring, imported, INSTALLATION), SECRET);
    assert.throws(() => rebind(ring, blob, at('inst-0002'), INSTALLATION), SecretDecryptError, 'only from where it is bound');
  });
});
