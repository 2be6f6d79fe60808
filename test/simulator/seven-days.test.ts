import assert from 'node:assert/strict';
import type { Simulator } from '../../src/simulator';
import { api, getToken, instPath, useSimulator } from './helpers';

const DAY_MS = 24 * 3_600_000;
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
const stateOf = (body: Record<string, unknown>) => (body._embedded as { state: { state: string; reason: string | null } }).state;

/** Talkdesk ends an install, update or uninstall seven days after its event (talkdesk-api.md, "Timing rules"). */
describe('simulator: an operation left open for seven days', () => {
  let sim: Simulator;
  useSimulator((s) => (sim = s), { revokeOnUninstall: true });

  async function installed(createdAt?: string) {
    const { installation, event } = sim.createInstallation({}, createdAt ? { createdAt } : undefined);
    const token = await getToken(sim, event.data);
    const post = () => api(sim, token, 'POST', `${instPath(installation.id)}/state`, '{"state":"approve"}');
    const get = () => api(sim, token, 'GET', instPath(installation.id));
    return { id: installation.id, post, get };
  }

  it('an install times out: shown as timeout, and a late approval concludes nothing (409)', async () => {
    const { id, post, get } = await installed(ago(7 * DAY_MS + 60_000));
    const late = await post();
    assert.equal(late.status, 409, late.text);
    assert.equal(stateOf((await get()).body).state, 'timeout');
    assert.equal(sim.stateCalls(id).at(-1)?.concluded, 'nothing');
    assert.equal(sim.getInstallation(id)?.pendingOperation, null);
  });

  it('the state an operation lapsed into is dated when its seven days ran out, not at the first read after', async () => {
    const createdAt = ago(9 * DAY_MS);
    const { get } = await installed(createdAt);
    const shown = (await get()).body._embedded as { state: { state: string; updated_at: string } };
    assert.equal(shown.state.state, 'timeout');
    assert.equal(Date.parse(shown.state.updated_at), Date.parse(createdAt) + 7 * DAY_MS, 'two days ago');

    const { installation } = sim.createInstallation();
    const uninstalledAt = ago(8 * DAY_MS);
    sim.uninstall(installation.id, undefined, { createdAt: uninstalledAt });
    const view = sim.getInstallation(installation.id);
    assert.equal(view?.state, 'revoked');
    assert.equal(view?.stateUpdatedAt.getTime(), Date.parse(uninstalledAt) + 7 * DAY_MS, 'a day ago');
  });

  it('an install whose event time is malformed (a test checking how it is refused) does not time out at once', async () => {
    const { id, post } = await installed('not-a-time');
    assert.equal((await post()).status, 200);
    assert.equal(sim.getInstallation(id)?.state, 'completed');
  });

  it('an install a minute short of seven days is still open and approved', async () => {
    const { id, post } = await installed(ago(7 * DAY_MS - 60_000));
    assert.equal((await post()).status, 200);
    assert.equal(sim.getInstallation(id)?.state, 'completed');
  });

  it("an update times out seven days after its own event, whatever the install's time", async () => {
    const { id, post } = await installed(ago(6 * DAY_MS));
    assert.equal((await post()).status, 200);
    const recent = ago(60_000);
    sim.updateUsers(id, { add: 1 }, { createdAt: recent });
    assert.equal(sim.getInstallation(id)?.pendingSince?.getTime(), Date.parse(recent), "the update's own event time");
    assert.equal((await post()).status, 200, 'an update opened a minute ago is acknowledged');
    sim.updateUsers(id, { add: 1 }, { createdAt: ago(8 * DAY_MS) });
    assert.equal(sim.getInstallation(id)?.state, 'timeout');
    assert.equal((await post()).status, 409);
  });

  it('an uninstall not acknowledged is deprovisioned anyway: revoked, its clients too, from the first call on', async () => {
    const { installation, event } = sim.createInstallation();
    const token = await getToken(sim, event.data);
    const path = `${instPath(installation.id)}/state`;
    assert.equal((await api(sim, token, 'POST', path, '{"state":"approve"}')).status, 200);
    sim.uninstall(installation.id, undefined, { createdAt: ago(7 * DAY_MS + 1_000) });
    // Nothing read it since: the first call with the token already finds its client revoked.
    const late = await api(sim, token, 'POST', path, '{"state":"approve"}');
    assert.equal(late.status, 401, late.text);
    await assert.rejects(getToken(sim, event.data), /token request failed: 40\d/, 'no new token for its client either');
    const view = sim.getInstallation(installation.id);
    assert.deepEqual([view?.state, view?.pendingOperation], ['revoked', null]);
    for (const c of view?.clientIds ?? []) assert.ok(sim.getClient(c)?.revokedAt, 'its clients are revoked');
  });

  it('a lapsed uninstall refuses a sign-in, and shows its client revoked, as its first call', async () => {
    const { installation, event } = sim.createInstallation();
    sim.uninstall(installation.id, undefined, { createdAt: ago(8 * DAY_MS) });
    const u = new URL(sim.authorizeUrlFor(event.data.client_id));
    const params = { client_id: event.data.client_id, redirect_uri: 'https://app.example.test/sso/callback', response_type: 'code' };
    for (const [k, v] of Object.entries({ ...params, scope: 'openid', state: 's', nonce: 'n' })) u.searchParams.set(k, v);
    const res = await fetch(u, { redirect: 'manual' });
    assert.equal(res.status, 400, 'a page, no code');
    assert.match(await res.text(), /Unknown or revoked client_id/);
    const other = sim.createInstallation();
    sim.uninstall(other.installation.id, undefined, { createdAt: ago(8 * DAY_MS) });
    assert.ok(sim.getClient(other.event.data.client_id)?.revokedAt, 'the view of its client, read first, shows it revoked');
  });

  it('a lapsed uninstall refuses a token request as its first call', async () => {
    const { installation, event } = sim.createInstallation();
    sim.uninstall(installation.id, undefined, { createdAt: ago(8 * DAY_MS) });
    await assert.rejects(getToken(sim, event.data), /token request failed: 40\d/);
    assert.equal(sim.getInstallation(installation.id)?.state, 'revoked');
  });
});
