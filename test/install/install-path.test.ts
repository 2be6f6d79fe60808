import assert from 'node:assert/strict';
import { postCallback } from '../support/callback-client';
import { KEY_ALGORITHMS } from '../../workflows/definitions';
import { useSystem, type TestSystem } from '../support/system';
import { eventually, holdsFor, waitForPhase } from '../support/waits';

describe('install path end to end (dev server, FerretDB, simulator)', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  useSystem((s) => (sys = s));

  for (const algorithm of KEY_ALGORITHMS) {
    it(`provisions and approves an install signed with ${algorithm}`, async () => {
      const { installation, event } = sys.simulator.createInstallation({ algorithm, licensedUsers: 45 });
      const status = await sys.simulator.deliver(event, { callbackUrl: sys.web.callbackUrl });
      assert.equal(status, 200);

      const view = await waitForPhase(sys.client, installation.id, 'active');
      assert.equal(view.accountName, event.data.account_name);
      assert.equal(view.activeClientId, event.data.client_id);

      const account = await sys.store.accounts.getAccount(event.data.account_id);
      assert.equal(account?.status, 'provisioned');
      assert.equal(account?.installationId, installation.id);
      const users = await sys.store.accounts.listUsers(event.data.account_id);
      assert.equal(users.length, 45, 'every page of licensed users is mapped');
      assert.ok(users.every((u) => u.active));

      const approvals = sys.simulator.stateCalls(installation.id);
      assert.equal(approvals.length, 1);
      assert.deepEqual(approvals[0]?.body, { state: 'approve' });
      assert.equal(approvals[0]?.status, 200);
      assert.equal(sys.simulator.getInstallation(installation.id)?.state, 'completed');
      // This install's own client (the system is shared by every algorithm's run).
      const tokenCalls = sys.simulator.calls.filter((c) => c.route === 'token' && c.status === 200 && c.clientId === event.data.client_id);
      assert.ok(tokenCalls.length >= 1);
    });
  }

  it('answers a repeated delivery 200 and changes nothing', async () => {
    const { installation, event } = sys.simulator.createInstallation();
    // Each POST once (the simulator's deliver() retries a refusal in the background): every one is answered 200.
    const answers = await Promise.all(Array.from({ length: 5 }, () => postCallback(sys.web.callbackUrl, event)));
    assert.deepEqual(
      answers.map((a) => [a.status, a.json?.eventId]),
      answers.map(() => [200, event.id]),
      JSON.stringify(answers.map((a) => a.json)),
    );
    assert.ok(answers.some((a) => a.json?.status === 'accepted'));
    assert.ok(answers.every((a) => a.json?.status === 'accepted' || a.json?.status === 'duplicate'));
    await waitForPhase(sys.client, installation.id, 'active');
    const inbox = await sys.store.inbox.listForInstallation(installation.id);
    assert.equal(inbox.length, 1);
    assert.equal(await sys.store.accounts.accounts.countDocuments({ installationId: installation.id }), 1);
    // A later event of the installation, handed over and applied, proves every earlier delivery had its
    // chance to reach the workflow; from then on, for a while, no second approval may be sent.
    await sys.simulator.deliver(sys.simulator.startTrial(installation.id, new Date(Date.now() + 86_400_000)), {
      callbackUrl: sys.web.callbackUrl,
    });
    const view = await eventually('the later event to be applied', async () => {
      const v = await waitForPhase(sys.client, installation.id, 'active');
      return v.trial?.startedAt ? v : undefined;
    });
    assert.equal(view.appliedEvents, 2, 'the install once, then the trial');
    // Repeats that reached the workflow (several dispatches may race) are recorded as duplicates, nothing else.
    assert.ok(
      view.ignoredEvents.every((e) => e.eventId === event.id && e.reason === 'duplicate delivery'),
      JSON.stringify(view.ignoredEvents),
    );
    await holdsFor('a single approval', () => sys.simulator.stateCalls(installation.id).length === 1, 2_000);
  });
});
