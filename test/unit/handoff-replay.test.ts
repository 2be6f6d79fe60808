import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { generateKeyPair, SignJWT } from 'jose';
import { MemorySeenTokenIds, verifyHandoffToken } from '../../src/sso/verify-handoff';

/** The partner's replay guard for hand-off tokens (src/sso/verify-handoff.ts), with a key of the test's own. */
describe('hand-off token replay guard', () => {
  it('refuses a replay of a token just past its exp, which the clock tolerance still accepts', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ talkdesk_account_id: 'acct', talkdesk_installation_id: 'inst', role: 'user' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer('https://service.example')
      .setAudience('https://app.example')
      .setSubject('user-1')
      .setJti(randomUUID())
      .setIssuedAt(now - 62)
      // Two seconds past its expiry: inside the default 5 s tolerance.
      .setExpirationTime(now - 2)
      .sign(privateKey);
    const o = {
      issuer: 'https://service.example',
      audience: 'https://app.example',
      keys: async () => publicKey,
      seen: new MemorySeenTokenIds(),
    };
    const claims = await verifyHandoffToken(token, o);
    assert.equal(claims.sub, 'user-1');
    // Before, the guard forgot the jti once exp had passed, though the token was still accepted: the replay went through.
    await assert.rejects(verifyHandoffToken(token, o), /jti replayed/);
  });
});
