import assert from 'node:assert/strict';
import type { CallRecord } from '../../src/simulator';
import { useSystem, type TestSystem } from '../support/system';
import { eventually, queryState, waitForPhase } from '../support/waits';

const ACTIVATION_SECONDS = 3;
const API_ROUTES = new Set<CallRecord['route']>(['account', 'users', 'installation', 'licensedUsers', 'installationState']);

/**
 * "A newly granted scope can answer 401 for some minutes" (talkdesk-api.md): the simulator answers 401 to a new
 * installation's API calls for a while. The install retries with a fresh token until its scopes work, and
 * approves once.
 */
describe('a new installation whose scopes answer 401 at first (dev server, FerretDB, simulator)', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  useSystem((s) => (sys = s), { scopeActivationSeconds: ACTIVATION_SECONDS });

  it('retries through the 401s with new tokens and approves the install once, after the scopes work', async () => {
    const { installation, event } = sys.simulator.createInstallation();
    assert.equal(await sys.simulator.deliver(event, { callbackUrl: sys.web.callbackUrl }), 200);
    const view = await waitForPhase(sys.client, installation.id, 'active');
    assert.deepEqual(
      view.history.map((h) => [h.phase, h.result]),
      [['installing', 'approved']],
    );

    const activeFrom = installation.createdAt.getTime() + ACTIVATION_SECONDS * 1000;
    const api = sys.simulator.calls.filter((c) => c.installationId === installation.id && API_ROUTES.has(c.route));
    const refused = api.filter((c) => c.status === 401);
    assert.ok(refused.length > 0, 'the first calls met the 401');
    assert.ok(
      refused.every((c) => c.at.getTime() < activeFrom),
      'only while the scopes were new',
    );
    // `at` is the request's arrival; the simulator decides after reading the body, so a call that arrived just before
    // activeFrom may be answered 200: a second's allowance.
    assert.ok(
      api.filter((c) => c.status === 200).every((c) => c.at.getTime() >= activeFrom - 1_000),
      'answered once they worked',
    );
    const approvals = sys.simulator.stateCalls(installation.id).filter((c) => c.status === 200);
    assert.deepEqual(
      approvals.map((c) => c.concluded),
      ['install'],
    );

    // A 401 drops the cached token: the calls after one ask for a new token first.
    const client = installation.clientIds[0];
    const tokens = sys.simulator.calls.filter((c) => c.route === 'token' && c.clientId === client && c.status === 200);
    assert.ok(tokens.length >= 2, `a new token after the 401s (${tokens.length} issued)`);
    const lastRefusal = Math.max(...refused.map((c) => c.at.getTime()));
    assert.ok(
      tokens.some((t) => t.at.getTime() >= lastRefusal),
      'a token issued after the last 401',
    );
    assert.equal(sys.simulator.getInstallation(installation.id)?.state, 'completed');
  });
});

/**
 * The same as Talkdesk's SCOPES page words it: "until then token requests answer 401". The simulator answers a new
 * client's token requests 401 `invalid_client` (no code is documented; that one is otherwise final) for a while: a
 * set imported minutes ago is retried (activities/tokens.ts SCOPE_ACTIVATION_MS), never taken as refused for good.
 */
describe('a new client whose token requests answer 401 invalid_client at first (dev server, FerretDB, simulator)', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  useSystem((s) => (sys = s), { tokenScopeActivationSeconds: ACTIVATION_SECONDS });
  const refusedTokens = (clientId: string | undefined) =>
    sys.simulator.calls.filter((c) => c.route === 'token' && c.clientId === clientId && c.status === 401);

  it('an install retries until the client gets a token and is approved once (before: rejected, its only credentials destroyed)', async () => {
    const { installation, event } = sys.simulator.createInstallation();
    assert.equal(await sys.simulator.deliver(event, { callbackUrl: sys.web.callbackUrl }), 200);
    const view = await waitForPhase(sys.client, installation.id, 'active');
    assert.deepEqual(
      view.history.map((h) => [h.phase, h.result]),
      [['installing', 'approved']],
    );
    assert.ok(refusedTokens(installation.clientIds[0]).length > 0, 'the first token requests met the 401');
    assert.deepEqual(
      sys.simulator
        .stateCalls(installation.id)
        .filter((c) => c.status === 200)
        .map((c) => c.concluded),
      ['install'],
    );
  });

  it('an uninstall arriving while the new client is still refused is acknowledged once its scopes work (before: failed, Talkdesk never told)', async () => {
    const { installation, event } = sys.simulator.createInstallation();
    assert.equal(await sys.simulator.deliver(event, { callbackUrl: sys.web.callbackUrl }), 200);
    const uninstalledAt = Date.now();
    assert.equal(await sys.simulator.deliver(sys.simulator.uninstall(installation.id), { callbackUrl: sys.web.callbackUrl }), 200);
    const view = await waitForPhase(sys.client, installation.id, 'uninstalled');
    assert.deepEqual([view.history.at(-1)?.phase, view.history.at(-1)?.result], ['uninstalling', 'acknowledged']);
    // From the uninstalling phase's start: the interrupted install's own retries, before it, do not count.
    const uninstallingFrom = Date.parse(view.history.find((h) => h.phase === 'uninstalling')?.startedAt ?? '');
    assert.ok(uninstallingFrom >= uninstalledAt - 1_000, 'the uninstalling phase began after the uninstall was delivered');
    const refusedAfter = refusedTokens(installation.clientIds[0]).filter((c) => c.at.getTime() >= uninstallingFrom);
    assert.ok(refusedAfter.length > 0, "the uninstall's own token requests met the 401");
    assert.deepEqual(
      sys.simulator
        .stateCalls(installation.id)
        .filter((c) => c.status === 200)
        .map((c) => c.concluded),
      ['uninstall'],
    );
  });

  it("a compromised rotation proves its new set once the client's scopes work, and switches to it", async () => {
    const { installation, event } = sys.simulator.createInstallation();
    assert.equal(await sys.simulator.deliver(event, { callbackUrl: sys.web.callbackUrl }), 200);
    await waitForPhase(sys.client, installation.id, 'active');
    const rotation = sys.simulator.rotateCredentials(installation.id, { compromised: true });
    assert.equal(await sys.simulator.deliver(rotation, { callbackUrl: sys.web.callbackUrl }), 200);
    const view = await eventually('the new set in use', async () => {
      const v = await queryState(sys.client, installation.id);
      return v.activeClientId === rotation.data.client_id && !v.currentStep ? v : undefined;
    });
    assert.equal(view.history.at(-1)?.result, 'rotated');
    assert.ok(refusedTokens(rotation.data.client_id).length > 0, "the new client's first token requests met the 401");
  });
});
