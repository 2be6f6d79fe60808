import assert from 'node:assert/strict';
import type { Simulator } from '../../src/simulator';
import { api, getToken, useSimulator } from './helpers';

/**
 * Talkdesk activates an installation's scopes, and a client's token requests, some time after it issues them: the
 * simulator's delays run from the event's `created_at` (when Talkdesk installed or rotated), not from when a test built
 * the event. An install dated an hour ago is long active; one dated now is not yet.
 */
describe('simulator: scope activation runs from the event time', () => {
  let sim: Simulator;
  const restart = useSimulator((s) => (sim = s), { scopeActivationSeconds: 600, tokenScopeActivationSeconds: 600 });
  const hourAgo = () => new Date(Date.now() - 3_600_000);

  it('an install dated an hour ago: its token granted and its scopes answering at once', async () => {
    const { installation, event } = sim.createInstallation({}, { createdAt: hourAgo() });
    assert.ok(Math.abs(installation.createdAt.getTime() - Date.parse(event.created_at)) < 1_000, 'installed at its event time');
    const token = await getToken(sim, event.data);
    assert.equal((await api(sim, token, 'GET', '/account')).status, 200);
  });

  it('an install dated now: its token refused until the delay has run (positive control)', async () => {
    const { event } = sim.createInstallation();
    await assert.rejects(getToken(sim, event.data), /401|invalid_client/);
  });

  it('an install dated ahead of now (a second, rounded up) is issued now: no delay configured, its token granted at once', async () => {
    const quick = await restart({});
    const { event } = quick.createInstallation({}, { createdAt: new Date(Date.now() + 1_000) });
    assert.equal(typeof (await getToken(quick, event.data)), 'string');
  });

  it("a rotation dated an hour ago: its new client's token granted at once", async () => {
    const { installation } = sim.createInstallation({}, { createdAt: new Date(Date.now() - 7_200_000) });
    const rotation = sim.rotateCredentials(installation.id, {}, { createdAt: hourAgo() });
    const token = await getToken(sim, rotation.data);
    assert.equal(typeof token, 'string');
  });
});
