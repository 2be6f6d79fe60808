import assert from 'node:assert/strict';
import { useSystem, type TestSystem } from '../support/system';
import { eventually, waitForPhase } from '../support/waits';
import { stateQuery, workflowIdFor } from '../../workflows/definitions';

const DAY_MS = 24 * 3_600_000;
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

/**
 * An install delivered after Talkdesk ended its operation (seven days after its `created_at`, talkdesk-api.md): a
 * backlog, or a lost event reconciliation found late. The simulator ends the operation as Talkdesk does, so an
 * approval sent now would conclude nothing (409); none is sent, and what was done for it is undone.
 */
describe('installs delivered after their seven days (dev server, FerretDB, simulator)', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  useSystem((s) => (sys = s));

  const deliver = async (event: unknown) => {
    assert.equal(await sys.simulator.deliver(event as never, { callbackUrl: sys.web.callbackUrl }), 200);
  };
  const view = (installationId: string) => sys.client.workflow.getHandle(workflowIdFor(installationId)).query(stateQuery);

  it('an install: no approval, ended expired, nothing left provisioned, its credentials destroyed', async () => {
    const { installation, event } = sys.simulator.createInstallation({}, { createdAt: ago(7 * DAY_MS + 60_000) });
    await deliver(event);
    const ended = await eventually('the install to end', async () => {
      const v = await view(installation.id).catch(() => undefined);
      return v && v.phase !== 'installing' && v.phase !== 'new' ? v : undefined;
    });
    assert.equal(ended.phase, 'expired');
    assert.deepEqual([ended.history.at(-1)?.phase, ended.history.at(-1)?.result], ['installing', 'expired']);
    assert.equal(sys.simulator.getInstallation(installation.id)?.state, 'timeout');
    const calls = sys.simulator.stateCalls(installation.id);
    assert.deepEqual(
      calls.map((c) => c.body),
      [],
      'no approval or reject sent for an operation Talkdesk ended',
    );
    assert.equal(await sys.store.accounts.getAccount(event.data.account_id), null, 'nothing provisioned is left');
    // Past its deadline before its import: no set was imported; the copy the callback stored is what is destroyed.
    await eventually('the stored copy of its credentials deleted', async () =>
      (await sys.store.eventCredentials.get(event.id)) === undefined ? true : undefined,
    );
    const creds = await sys.store.credentials.list(installation.id);
    assert.ok(
      creds.every((c) => c.status === 'destroyed' && !c.secret),
      'any set imported destroyed',
    );
  });

  it('an install two hours inside its seven days (past the one-hour margin) is approved as usual', async () => {
    const { installation, event } = sys.simulator.createInstallation({}, { createdAt: ago(7 * DAY_MS - 2 * 3_600_000) });
    await deliver(event);
    const active = await waitForPhase(sys.client, installation.id, 'active');
    assert.deepEqual([active.history.at(-1)?.phase, active.history.at(-1)?.result], ['installing', 'approved']);
    assert.deepEqual(
      sys.simulator.stateCalls(installation.id).map((c) => [c.status, c.concluded]),
      [[200, 'install']],
    );
    assert.equal(sys.simulator.getInstallation(installation.id)?.state, 'completed');
  });
});
