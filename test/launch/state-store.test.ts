import assert from 'node:assert/strict';
import { SsoStateStore, type StateCheck } from '../../src/sso/state-store';
import { connectDatabase, type Database } from '../../src/store';
import { COLLECTIONS } from '../../src/store/db';
import { randomId } from '../../src/store/sessions';
import { mongoUri, uniqueDbName } from '../support/servers';

/** A check as compared: an accepted state's issue time is asserted to be there, then left out. */
function issued(check: StateCheck): StateCheck | Omit<Extract<StateCheck, { ok: true }>, 'issuedAt'> {
  if (!check.ok) return check;
  const { issuedAt, ...rest } = check;
  assert.ok(issuedAt instanceof Date && Math.abs(issuedAt.getTime() - Date.now()) < 15 * 60_000, String(issuedAt));
  return rest;
}

describe('launch: sign-in states on the store', function () {
  this.timeout(30_000);
  let db: Database;
  let states: SsoStateStore;
  before(async () => {
    db = await connectDatabase(await mongoUri(), uniqueDbName('states'));
    states = new SsoStateStore(db);
  });
  after(async () => {
    await db?.db.dropDatabase().catch(() => undefined);
    await db?.close();
  });

  it('callbacks racing with one state and its browser: exactly one is accepted, the others are replays', async () => {
    for (let round = 0; round < 5; round += 1) {
      const [state, browser] = [randomId(), randomId()];
      await states.create(state, { installationId: 'inst1', nonce: randomId(), browser });
      const checks = await Promise.all(Array.from({ length: 8 }, () => states.consume(state, browser)));
      assert.equal(checks.filter((c) => c.ok).length, 1, JSON.stringify(checks));
      assert.deepEqual(
        checks.filter((c) => !c.ok).map((c) => !c.ok && c.why),
        Array(7).fill('replayed'),
      );
      assert.deepEqual(await states.consume(state, browser), { ok: false, why: 'replayed', installationId: 'inst1' });
    }
  });

  it('another browser spends nothing; an expired state is refused; the sweep removes a spent state and its marker', async () => {
    const [state, browser] = [randomId(), randomId()];
    const now = new Date();
    await states.create(state, { installationId: 'inst2', nonce: 'n', browser }, now);
    assert.deepEqual(await states.consume(state, randomId(), now), { ok: false, why: 'other_browser', installationId: 'inst2' });
    assert.deepEqual(issued(await states.consume(state, browser, now)), { ok: true, installationId: 'inst2', nonce: 'n' });
    const later = new Date(now.getTime() + 11 * 60_000);
    const other = randomId();
    await states.create(other, { installationId: 'inst2', nonce: 'n', browser }, now);
    assert.deepEqual(await states.consume(other, browser, later), { ok: false, why: 'expired', installationId: 'inst2' });
    const kept = () => db.db.collection(COLLECTIONS.ssoStates).countDocuments({ installationId: 'inst2' });
    assert.equal(await kept(), 3, 'both states and the spent marker');
    await states.sweep(now);
    assert.equal(await kept(), 3, 'none swept before its expiry');
    assert.ok((await states.sweep(later)) >= 3);
    assert.equal(await kept(), 0, 'both states and the spent marker swept');
    assert.deepEqual(await states.consume(state, browser, later), { ok: false, why: 'unknown' });
  });
});
