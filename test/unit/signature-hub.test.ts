import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { HUB_ALGORITHMS, signHubSignature, verifyHubSignature } from '../../src/web/signature';

const SECRET = 'webhook-secret-0123456789';
// Pretty-printed, as a sender might serialise it: the bytes are what is signed.
const RAW = Buffer.from('{\n  "id": "evt-1",\n  "type": "app.installed",\n  "data": { "installation_id": "i-1" }\n}');

describe('web/signature hub (HMAC)', () => {
  it('signs as <alg>=<hex HMAC of the raw body>, sha256 by default', () => {
    assert.equal(signHubSignature(RAW, SECRET), `sha256=${createHmac('sha256', SECRET).update(RAW).digest('hex')}`);
    assert.match(signHubSignature(RAW, SECRET, 'sha1'), /^sha1=[0-9a-f]{40}$/);
    assert.match(signHubSignature(RAW, SECRET, 'sha512'), /^sha512=[0-9a-f]{128}$/);
  });

  for (const alg of HUB_ALGORITHMS) {
    it(`accepts a valid ${alg} signature when enabled, any prefix case, upper-case hex, surrounding space`, () => {
      const header = signHubSignature(RAW, SECRET, alg);
      const options = { algorithms: [alg] };
      assert.equal(verifyHubSignature(RAW, header, [SECRET], options), true);
      assert.equal(verifyHubSignature(RAW, header.replace(alg, alg.toUpperCase()), [SECRET], options), true);
      const [prefix, hex] = header.split('=') as [string, string];
      assert.equal(verifyHubSignature(RAW, `${prefix}=${hex.toUpperCase()}`, [SECRET], options), true);
      assert.equal(verifyHubSignature(RAW, ` ${header} `, [SECRET], options), true);
    });
  }

  it('accepts sha256 and sha512 by default, sha1 only when enabled (CALLBACK_HMAC_ALGORITHMS)', () => {
    assert.equal(verifyHubSignature(RAW, signHubSignature(RAW, SECRET, 'sha256'), [SECRET]), true);
    assert.equal(verifyHubSignature(RAW, signHubSignature(RAW, SECRET, 'sha512'), [SECRET]), true);
    assert.equal(verifyHubSignature(RAW, signHubSignature(RAW, SECRET, 'sha1'), [SECRET]), false);
  });

  it('refuses a signature made with another secret', () => {
    assert.equal(verifyHubSignature(RAW, signHubSignature(RAW, 'another-secret-abcdef'), [SECRET]), false);
  });

  it('refuses a truncated or extended signature without throwing', () => {
    const header = signHubSignature(RAW, SECRET);
    assert.equal(verifyHubSignature(RAW, header.slice(0, -2), [SECRET]), false);
    assert.equal(verifyHubSignature(RAW, header.slice(0, -1), [SECRET]), false);
    assert.equal(verifyHubSignature(RAW, `${header}00`, [SECRET]), false);
    assert.equal(verifyHubSignature(RAW, 'sha256=', [SECRET]), false);
  });

  it('refuses the right hex under another algorithm prefix', () => {
    const hex256 = signHubSignature(RAW, SECRET, 'sha256').split('=')[1] ?? '';
    const hex1 = signHubSignature(RAW, SECRET, 'sha1').split('=')[1] ?? '';
    assert.equal(verifyHubSignature(RAW, `sha1=${hex256}`, [SECRET]), false);
    assert.equal(verifyHubSignature(RAW, `sha512=${hex256}`, [SECRET]), false);
    assert.equal(verifyHubSignature(RAW, `sha256=${hex1}`, [SECRET]), false);
    assert.equal(verifyHubSignature(RAW, `md5=${hex256}`, [SECRET]), false);
  });

  it('refuses a signature of the re-serialised body', () => {
    const reserialised = Buffer.from(JSON.stringify(JSON.parse(RAW.toString('utf8'))));
    assert.notDeepEqual(reserialised, RAW);
    assert.equal(verifyHubSignature(RAW, signHubSignature(reserialised, SECRET), [SECRET]), false);
    assert.equal(verifyHubSignature(reserialised, signHubSignature(RAW, SECRET), [SECRET]), false);
  });

  it('accepts any of several secrets (rotation) and ignores empty ones', () => {
    const header = signHubSignature(RAW, 'old-secret-0123456789');
    assert.equal(verifyHubSignature(RAW, header, ['new-secret-0123456789', 'old-secret-0123456789']), true);
    assert.equal(verifyHubSignature(RAW, header, ['new-secret-0123456789']), false);
    assert.equal(verifyHubSignature(RAW, header, []), false);
    assert.equal(verifyHubSignature(RAW, signHubSignature(RAW, ''), ['']), false);
  });

  it('honours a restricted list of algorithms', () => {
    const sha1 = signHubSignature(RAW, SECRET, 'sha1');
    assert.equal(verifyHubSignature(RAW, sha1, [SECRET], { algorithms: ['sha256', 'sha512'] }), false);
    assert.equal(verifyHubSignature(RAW, signHubSignature(RAW, SECRET), [SECRET], { algorithms: ['sha256'] }), true);
  });

  it("accepts the bare hex, as Talkdesk's test receiver compares it (upper case): the algorithm by its length, if accepted", () => {
    const bare = (alg: (typeof HUB_ALGORITHMS)[number]) => signHubSignature(RAW, SECRET, alg).split('=')[1] ?? '';
    assert.equal(verifyHubSignature(RAW, bare('sha256').toUpperCase(), [SECRET]), true);
    assert.equal(verifyHubSignature(RAW, bare('sha512'), [SECRET]), true);
    assert.equal(verifyHubSignature(RAW, bare('sha1'), [SECRET]), false, 'sha1 only when enabled');
    assert.equal(verifyHubSignature(RAW, bare('sha1'), [SECRET], { algorithms: ['sha1'] }), true);
    assert.equal(verifyHubSignature(RAW, bare('sha256'), [SECRET], { algorithms: ['sha512'] }), false);
    assert.equal(verifyHubSignature(RAW, bare('sha256'), ['another-secret-abcdef']), false);
  });

  it('refuses malformed headers', () => {
    const hex = signHubSignature(RAW, SECRET).split('=')[1] ?? '';
    for (const header of [
      undefined,
      '',
      'sha256',
      `${hex}0`,
      `sha256:${hex}`,
      `sha256 = ${hex}`,
      `sha256=${hex.slice(0, 62)}zz`,
      `=${hex}`,
    ]) {
      assert.equal(verifyHubSignature(RAW, header, [SECRET]), false, String(header));
    }
    // A repeated header: ambiguous, refused even if one copy is right.
    assert.equal(verifyHubSignature(RAW, [signHubSignature(RAW, SECRET)], [SECRET]), false);
    assert.equal(verifyHubSignature(RAW, `${signHubSignature(RAW, SECRET)}, ${signHubSignature(RAW, SECRET)}`, [SECRET]), false);
  });

  it('never throws on random headers and never verifies them (property)', () => {
    const header = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc
        .tuple(
          fc.constantFrom('sha1', 'SHA256', 'sha256', 'sha512', 'md5', ''),
          fc.constantFrom('=', ':', ''),
          fc.stringMatching(/^[0-9a-fA-F]{0,140}$/),
        )
        .map(([a, s, h]) => `${a}${s}${h}`),
    );
    fc.assert(
      fc.property(header, (h) => {
        assert.equal(verifyHubSignature(RAW, h, [SECRET, 'second-secret-0123']), false);
      }),
      { numRuns: 1000 },
    );
  });

  it('never verifies a random body against a signature of another body (property)', () => {
    const header = signHubSignature(RAW, SECRET);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        const body = Buffer.from(bytes);
        fc.pre(!body.equals(RAW));
        assert.equal(verifyHubSignature(body, header, [SECRET]), false);
        // ...while a signature of that body itself does verify.
        assert.equal(verifyHubSignature(body, signHubSignature(body, SECRET, 'sha512'), [SECRET]), true);
      }),
      { numRuns: 500 },
    );
  });
});
