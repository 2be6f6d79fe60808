import assert from 'node:assert/strict';
import type { Simulator } from '../../src/simulator';
import { api, getToken, instPath, useSimulator } from './helpers';

describe('simulator state endpoints', () => {
  let sim: Simulator;
  const restart = useSimulator((s) => (sim = s));

  async function installed(opts: Parameters<Simulator['createInstallation']>[0] = {}) {
    const { installation, event } = sim.createInstallation(opts);
    const token = await getToken(sim, event.data);
    const post = (body: string, contentType?: string) => api(sim, token, 'POST', `${instPath(installation.id)}/state`, body, contentType);
    return { id: installation.id, event, token, post };
  }

  it('approve moves installing to completed and answers {state, reason, updated_at, _links}', async () => {
    const { id, post } = await installed();
    const r = await post('{"state":"approve"}');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(Object.keys(r.body).sort(), ['_links', 'reason', 'state', 'updated_at']);
    assert.equal(r.body.state, 'completed');
    assert.equal(r.body.reason, null);
    assert.equal(sim.getInstallation(id)?.state, 'completed');
    const calls = sim.stateCalls(id);
    assert.equal(calls.length, 1);
    assert.deepEqual(calls[0]?.body, { state: 'approve' });
    assert.equal(calls[0]?.status, 200);
    // A repeated approval concludes nothing: Talkdesk answers 409 (a stray call), and it is recorded.
    const again = await post('{"state":"approve"}');
    assert.equal(again.status, 409);
    assert.equal(sim.getInstallation(id)?.state, 'completed');
    assert.equal(sim.stateCalls(id).length, 2);
    assert.equal(sim.stateCalls(id)[1]?.concluded, 'nothing');
    sim.uninstall(id);
    // A rejection of the uninstall is refused (409): it concluded nothing, though the uninstall is open.
    assert.equal((await post('{"state":"reject","reason":"no"}')).status, 409);
    assert.equal(sim.stateCalls(id).at(-1)?.concluded, 'nothing');
    assert.equal((await post('{"state":"approve"}')).status, 200);
    assert.equal(sim.stateCalls(id).at(-1)?.concluded, 'uninstall');
    assert.equal((await post('{"state":"approve"}')).status, 409, 'a repeated acknowledgement of a revoked uninstall');
  });

  it('rejects every body that is not exactly approve or reject-with-reason, and records it', async () => {
    const { id, post } = await installed();
    const bad = [
      '{"state":"approve","reason":"x"}',
      '{"state":"approved"}',
      '{"state":"reject"}',
      '{"state":"reject","reason":""}',
      '{"state":"reject","reason":"   "}',
      '{"state":"reject","reason":"x","extra":1}',
      '{}',
      '[]',
      'approve',
      '',
    ];
    for (const body of bad) {
      const r = await post(body);
      assert.equal(r.status, 400, body);
      assert.equal(typeof r.body.error, 'string', body);
      assert.equal(r.body.code, undefined);
    }
    const wrongType = await post('{"state":"approve"}', 'text/plain');
    assert.equal(wrongType.status, 400);
    assert.equal(sim.getInstallation(id)?.state, 'installing');
    const recorded = sim.stateCalls(id).map((c) => c.body);
    assert.deepEqual(recorded.slice(0, 3), [{ state: 'approve', reason: 'x' }, { state: 'approved' }, { state: 'reject' }]);
    assert.equal(recorded[8], 'approve', 'a non-JSON body is recorded raw');
    assert.equal(sim.stateCalls(id).length, bad.length + 1);
  });

  it('reject with a reason moves to rejected', async () => {
    const { id, post } = await installed();
    const r = await post('{"state":"reject","reason":"account not provisioned"}');
    assert.equal(r.status, 200);
    assert.equal(r.body.state, 'rejected');
    assert.equal(r.body.reason, 'account not provisioned');
    assert.equal(sim.getInstallation(id)?.reason, 'account not provisioned');
    assert.equal((await post('{"state":"approve"}')).status, 409);
  });

  it('acknowledges an update (pending -> completed) and an uninstall (-> revoked)', async () => {
    const { id, post } = await installed();
    await post('{"state":"approve"}');
    sim.updateUsers(id, { add: 1 });
    assert.equal(sim.getInstallation(id)?.state, 'pending');
    assert.equal((await post('{"state":"approve"}')).body.state, 'completed');
    sim.uninstall(id);
    assert.equal((await post('{"state":"reject","reason":"no"}')).status, 409);
    const ack = await post('{"state":"approve"}');
    assert.equal(ack.body.state, 'revoked');
    assert.equal(sim.getInstallation(id)?.state, 'revoked');
    assert.equal(sim.getInstallation(id)?.pendingOperation, null);
  });

  it('drift: setInstallationState changes what GET reports and what approve does', async () => {
    const { id, token, post } = await installed();
    await post('{"state":"approve"}');
    sim.setInstallationState(id, 'installing');
    const got = await api(sim, token, 'GET', instPath(id));
    assert.equal((got.body._embedded as { state: { state: string } }).state.state, 'installing');
    assert.equal((await post('{"state":"approve"}')).body.state, 'completed');
    sim.setInstallationState(id, 'timeout', 'customer took too long');
    const timedOut = await api(sim, token, 'GET', instPath(id));
    assert.deepEqual(
      { ...(timedOut.body._embedded as { state: object }).state, updated_at: 'x' },
      { state: 'timeout', reason: 'customer took too long', updated_at: 'x' },
    );
    assert.equal((await post('{"state":"approve"}')).status, 409);
  });

  it('revokeOnUninstall revokes the clients once the uninstall is acknowledged', async () => {
    await restart({ revokeOnUninstall: true });
    const { id, token, post } = await installed();
    sim.uninstall(id);
    // A rejection of the uninstall is refused (409): it concluded nothing, though the uninstall is open.
    assert.equal((await post('{"state":"reject","reason":"no"}')).status, 409);
    assert.equal(sim.stateCalls(id).at(-1)?.concluded, 'nothing');
    assert.equal((await post('{"state":"approve"}')).status, 200);
    assert.equal(sim.stateCalls(id).at(-1)?.concluded, 'uninstall');
    assert.equal((await api(sim, token, 'GET', instPath(id))).status, 401);
  });

  it('credentials state: 202 once, 409 again, 404 for unknown or foreign clients and for one no rotation brought, 400 for other bodies', async () => {
    const { id, event, token } = await installed();
    const other = sim.createInstallation();
    const rotated = sim.rotateCredentials(id);
    const path = (clientId: string) => `${instPath(id)}/credentials/${clientId}/state`;
    const ack = '{"state":"acknowledged"}';
    for (const body of ['{"state":"ack"}', '{"state":"acknowledged","x":1}', 'acknowledged']) {
      assert.equal((await api(sim, token, 'POST', path(rotated.data.client_id), body)).status, 400, body);
    }
    const ok = await api(sim, token, 'POST', path(rotated.data.client_id), ack);
    assert.equal(ok.status, 202);
    assert.ok(sim.getClient(rotated.data.client_id)?.acknowledgedAt);
    const again = await api(sim, token, 'POST', path(rotated.data.client_id), ack);
    assert.equal(again.status, 409);
    assert.equal(typeof again.body.error, 'string');
    assert.equal((await api(sim, token, 'POST', path('0'.repeat(32)), ack)).status, 404);
    assert.equal((await api(sim, token, 'POST', path(other.event.data.client_id), ack)).status, 404);
    const installClient = await api(sim, token, 'POST', path(event.data.client_id), ack);
    assert.equal(installClient.status, 404, "the install's own client was never rotated in");
    assert.equal((await api(sim, undefined, 'POST', path(rotated.data.client_id), ack)).status, 401);
    const calls = sim.credentialsStateCalls(id);
    assert.equal(calls.length, 9);
    assert.deepEqual(calls[3]?.body, { state: 'acknowledged' });
    assert.equal(calls[3]?.status, 202);
    assert.ok(event.data.client_id);
  });
});
