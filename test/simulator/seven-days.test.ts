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
    assert.equal(stateOf((await get()).body).state, 'timeout');
    const late = await post();
    assert.equal(late.status, 409, late.text);
    assert.equal(sim.stateCalls(id).at(-1)?.concluded, 'nothing');
    assert.equal(sim.getInstallation(id)?.pendingOperation, null);
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

  it('an uninstall not acknowledged is deprovisioned anyway: revoked, its clients too', async () => {
    const { id, post } = await installed();
    assert.equal((await post()).status, 200);
    sim.uninstall(id, undefined, { createdAt: ago(7 * DAY_MS + 1_000) });
    const view = sim.getInstallation(id);
    assert.equal(view?.state, 'revoked');
    assert.equal(view?.pendingOperation, null);
    for (const c of view?.clientIds ?? []) assert.ok(sim.getClient(c)?.revokedAt, 'its clients are revoked');
    assert.equal((await post()).status, 401, "the revoked client's token no longer works");
  });
});
