import assert from 'node:assert/strict';
import { decryptJson, generateKeySpec, parseKeyring, type EncryptedBlob } from '../../src/crypto/secrets';
import { signInStateCookieContext } from '../../src/store/secret-contexts';
import { SEALED_COOKIE_MAX, SealedStates } from '../../src/sso/sealed-state';
import { SPENT_MARKER_SLACK_MS, STATE_TTL_MS, SsoStateStore, type StateCheck } from '../../src/sso/state-store';
import { connectDatabase, type Database } from '../../src/store';
import { hashId, randomId } from '../../src/store/sessions';
import { mongoUri, uniqueDbName } from '../support/servers';

/** A check as compared: an accepted state's issue time is asserted to be there, then left out. */
function issued(check: StateCheck): StateCheck | Omit<Extract<StateCheck, { ok: true }>, 'issuedAt'> {
  if (!check.ok) return check;
  const { issuedAt, ...rest } = check;
  assert.ok(issuedAt instanceof Date && Math.abs(issuedAt.getTime() - Date.now()) < 15 * 60_000, String(issuedAt));
  return rest;
}

describe('launch: sign-in states the browser keeps (sealed cookie, spent by one insert)', function () {
  this.timeout(30_000);
  let db: Database;
  let store: SsoStateStore;
  let states: SealedStates;
  const keyring = parseKeyring(generateKeySpec('k1'));
  const links = { tokens: 'https://t.example/oauth/token', userinfo: 'https://t.example/users/me', widgetUrl: '' };
  before(async () => {
    db = await connectDatabase(await mongoUri(), uniqueDbName('sealed'));
    store = new SsoStateStore(db);
    states = new SealedStates(keyring, store);
  });
  after(async () => {
    await db?.db.dropDatabase().catch(() => undefined);
    await db?.close();
  });

  const stored = () => db.db.collection('sso_states').countDocuments({});

  it('issues without writing; accepted once from its browser, with what /launch read; racing callbacks: one wins', async () => {
    const before = await stored();
    const { state, cookie } = states.issue({ installationId: 'inst-1', nonce: 'n1', userHint: 'u1', links });
    assert.equal(await stored(), before, '/launch writes nothing');
    assert.match(state, /^[A-Za-z0-9_-]{40,}$/);
    assert.ok(cookie.length < 1500, `cookie of ${cookie.length} characters`);
    assert.equal(states.installationOf(state), 'inst-1');
    const checks = await Promise.all(Array.from({ length: 8 }, () => states.consume(state, cookie)));
    assert.deepEqual(checks.filter((c) => c.ok).map(issued), [{ ok: true, installationId: 'inst-1', nonce: 'n1', userHint: 'u1', links }]);
    assert.deepEqual(
      checks.filter((c) => !c.ok).map((c) => !c.ok && c.why),
      Array(7).fill('replayed'),
    );
    assert.equal(await stored(), before + 1, 'one spent marker');
    // Kept past the state's own expiry, so a sweep on a web process whose clock runs ahead cannot free it early.
    const marker = await db.db.collection('sso_states').findOne({ installationId: 'inst-1' });
    assert.ok(
      marker?.expiresAt instanceof Date && marker.expiresAt.getTime() >= Date.now() + STATE_TTL_MS + SPENT_MARKER_SLACK_MS - 60_000,
    );
  });

  it('accepts only the cookie version bound to its state (a version 1 blob of the same content is another browser)', async () => {
    const { state, cookie } = states.issue({ installationId: 'inst-5', nonce: 'n' });
    const blob = JSON.parse(Buffer.from(cookie, 'base64url').toString('utf8')) as { v: number };
    assert.equal(blob.v, 2);
    const v1 = Buffer.from(JSON.stringify({ ...blob, v: 1 })).toString('base64url');
    assert.deepEqual(await states.consume(state, v1), { ok: false, why: 'other_browser', installationId: 'inst-5' });
    assert.equal((await states.consume(state, cookie)).ok, true);
  });

  it('another browser (no cookie, or the cookie of another state) spends nothing and names the installation', async () => {
    const { state, cookie } = states.issue({ installationId: 'inst-2', nonce: 'n' });
    const other = states.issue({ installationId: 'inst-2', nonce: 'n' });
    assert.deepEqual(await states.consume(state, undefined), { ok: false, why: 'other_browser', installationId: 'inst-2' });
    assert.deepEqual(await states.consume(state, other.cookie), { ok: false, why: 'other_browser', installationId: 'inst-2' });
    assert.deepEqual(await states.consume(state, randomId()), { ok: false, why: 'other_browser', installationId: 'inst-2' });
    const tampered = `${cookie.slice(0, -4)}${cookie.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
    assert.deepEqual(await states.consume(state, tampered), { ok: false, why: 'other_browser', installationId: 'inst-2' });
    assert.equal((await states.consume(state, cookie)).ok, true, 'still good for its own browser');
  });

  it('refuses an expired state, a forged installation or MAC, and a state sealed under another SECRETS_KEY', async () => {
    const issuedAt = Date.now() - 11 * 60_000;
    const old = states.issue({ installationId: 'inst-3', nonce: 'n' }, issuedAt);
    assert.deepEqual(await states.consume(old.state, old.cookie), { ok: false, why: 'expired', installationId: 'inst-3' });

    const { state, cookie } = states.issue({ installationId: 'inst-3', nonce: 'n' });
    const forged = `${state.slice(0, 54)}inst-4`;
    assert.equal(states.installationOf(forged), undefined, 'the installation id is under the MAC');
    assert.deepEqual(await states.consume(forged, cookie), { ok: false, why: 'unknown' });
    const foreign = new SealedStates(parseKeyring(generateKeySpec('k1')), store).issue({ installationId: 'inst-3', nonce: 'n' });
    assert.deepEqual(await states.consume(foreign.state, foreign.cookie), { ok: false, why: 'unknown' });
  });

  it('links too long for a cookie are left out of it (the callback reads them instead)', async () => {
    const long = { ...links, widgetUrl: `https://w.example/${'x'.repeat(3000)}` };
    const { state, cookie } = states.issue({ installationId: 'inst-7', nonce: 'n', links: long });
    assert.ok(cookie.length <= SEALED_COOKIE_MAX, `cookie of ${cookie.length} characters`);
    assert.deepEqual(issued(await states.consume(state, cookie)), { ok: true, installationId: 'inst-7', nonce: 'n' });
  });

  it('a state of the stored form (earlier versions) is still accepted once, from its browser', async () => {
    const [state, browser] = [randomId(), randomId()];
    await store.create(state, { installationId: 'inst-5', nonce: 'n', browser });
    assert.deepEqual(await states.consume(state, randomId()), { ok: false, why: 'other_browser', installationId: 'inst-5' });
    assert.deepEqual(issued(await states.consume(state, browser)), { ok: true, installationId: 'inst-5', nonce: 'n' });
    assert.deepEqual(await states.consume(state, browser), { ok: false, why: 'replayed', installationId: 'inst-5' });
  });

  it('a key rotation keeps the states the previous key issued', async () => {
    const previous = generateKeySpec('k1');
    const before = new SealedStates(parseKeyring(previous), store).issue({ installationId: 'inst-6', nonce: 'n' });
    const rotated = new SealedStates(parseKeyring(`${generateKeySpec('k2')},${previous}`), store);
    assert.deepEqual(issued(await rotated.consume(before.state, before.cookie)), { ok: true, installationId: 'inst-6', nonce: 'n' });
  });

  it('seals the cookie under a key of its own: the storage key (SECRETS_KEY itself) does not open it', async () => {
    const { state, cookie } = states.issue({ installationId: 'inst-8', nonce: 'n' });
    const blob = JSON.parse(Buffer.from(cookie, 'base64url').toString('utf8')) as EncryptedBlob;
    // Anyone can have a cookie sealed (each /launch): it must not spend the nonces of the key the credentials are under.
    assert.throws(() => decryptJson(keyring, blob, signInStateCookieContext('inst-8', hashId(state))));
    assert.deepEqual(issued(await states.consume(state, cookie)), { ok: true, installationId: 'inst-8', nonce: 'n' });
  });
});
