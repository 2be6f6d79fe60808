import assert from 'node:assert/strict';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { rejectUpdate, retryNowUpdate, workflowIdFor } from '../../workflows/definitions';
import { useSystem, type TestSystem } from '../support/system';
import { useSystemWithWorkerProcess } from '../support/worker-process';
import { eventually, finalView, queryState, updateAdmitted, waitForPhase } from '../support/waits';

describe('operators in the Temporal UI: search attributes, details, updates', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  // Long backoffs, so that only an operator's retryNow can make a retry come soon.
  useSystem((s) => (sys = s), { workflowOptions: { retryInitialMs: 60_000, retryMaxMs: 60_000 } });

  const listIds = async (query: string) => {
    const ids: string[] = [];
    for await (const wf of sys.client.workflow.list({ query })) ids.push(wf.workflowId);
    return ids;
  };

  it('keeps search attributes current so InstallationPhase lists what is still installing', async () => {
    const accountName = `ops${Date.now().toString(36)}`;
    const { installation, event } = sys.simulator.createInstallation({ accountName });
    sys.simulator.failNext('installationState', 1, { status: 500 });
    await sys.simulator.deliver(event, { callbackUrl: sys.web.callbackUrl });
    const wid = workflowIdFor(installation.id);
    await eventually('listed as installing', async () =>
      (await listIds(`InstallationPhase="installing" AND TalkdeskAccountName="${accountName}"`)).includes(wid) ? true : undefined,
    );
    const desc = await sys.client.workflow.getHandle(wid).describe();
    assert.deepEqual(desc.searchAttributes.TalkdeskAccountId, [event.data.account_id]);
    assert.deepEqual(desc.searchAttributes.TalkdeskAppId, [event.app_id]);
    // Current details say in plain words what it is doing and waiting for, with the deadline.
    const text = await eventually('details naming the failing step', async () => {
      const meta = await sys.client.workflow.getHandle(wid).query<{ currentDetails?: string }>('__temporal_workflow_metadata');
      return meta.currentDetails?.includes('Last error') ? meta.currentDetails : undefined;
    });
    assert.match(text, /Phase: installing/);
    assert.match(text, /approve the installation at Talkdesk/);
    assert.match(text, /Last error: .*500/);
    assert.match(text, /Deadline: 20\d\d-/);
    assert.equal(await desc.staticSummary(), `Talkdesk installation ${installation.id} (${accountName})`);

    // retryNow cuts the one-minute backoff short, and is recorded.
    const view = await sys.client.workflow.getHandle(wid).executeUpdate(retryNowUpdate, { args: [{ reason: 'Talkdesk is back' }] });
    assert.equal(view.operatorActions.at(-1)?.action, 'retryNow');
    assert.equal(view.operatorActions.at(-1)?.reason, 'Talkdesk is back');
    await waitForPhase(sys.client, installation.id, 'active', 45_000);
    await eventually('listed as active', async () =>
      (await listIds(`InstallationPhase="active" AND TalkdeskAccountName="${accountName}"`)).includes(wid) ? true : undefined,
    );
  });

  it('refuses retryNow when nothing is running, with a reason', async () => {
    const { installation, event } = sys.simulator.createInstallation();
    await sys.simulator.deliver(event, { callbackUrl: sys.web.callbackUrl });
    await waitForPhase(sys.client, installation.id, 'active');
    await assert.rejects(
      sys.client.workflow.getHandle(workflowIdFor(installation.id)).executeUpdate(retryNowUpdate, { args: [{}] }),
      (err: unknown) => err instanceof WorkflowUpdateFailedError && /Nothing to retry/.test(String(err.cause?.message)),
    );
    const view = await queryState(sys.client, installation.id);
    assert.equal(view.operatorActions.length, 0, 'a refused update leaves no trace in the state');
  });

  it('rejects an installation on an operator update, with validation of the reason', async () => {
    const { installation, event } = sys.simulator.createInstallation();
    // Talkdesk fails the first approval; the next is a minute away (this suite's retry), so the reject comes
    // first: an active installation could not be rejected. One fault only, so none is left for the rejection.
    sys.simulator.failNext('installationState', 1, { status: 500 });
    await sys.simulator.deliver(event, { callbackUrl: sys.web.callbackUrl });
    // Stuck at the approval (credentials imported), where an operator would step in.
    await eventually('stuck approving', async () =>
      (await queryState(sys.client, installation.id)).lastError?.includes('approve') ? true : undefined,
    );
    const handle = sys.client.workflow.getHandle(workflowIdFor(installation.id));
    await assert.rejects(
      handle.executeUpdate(rejectUpdate, { args: [{ reason: '  ' }] }),
      (err: unknown) => err instanceof WorkflowUpdateFailedError && /reason of 1 to 500 characters/.test(String(err.cause?.message)),
    );
    await handle.executeUpdate(rejectUpdate, { args: [{ reason: 'account is not eligible' }] });
    const view = await finalView(sys.client, installation.id);
    assert.equal(view.phase, 'rejected');
    assert.equal(view.operatorActions.at(-1)?.action, 'reject');
    const calls = sys.simulator.stateCalls(installation.id);
    assert.deepEqual(calls.at(-1)?.body, { state: 'reject', reason: 'Rejected by operator: account is not eligible' });
    assert.equal(await sys.store.accounts.getAccount(event.data.account_id), null);
  });
});

describe('an operator reject before the install has begun (no worker running yet)', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  const startWorker = useSystemWithWorkerProcess((s) => (sys = s));

  it("imports the install's credentials to send the rejection, and the install never runs", async () => {
    const { installation, event } = sys.simulator.createInstallation();
    assert.equal(await sys.simulator.deliver(event, { callbackUrl: sys.web.callbackUrl }), 200);
    const handle = sys.client.workflow.getHandle(workflowIdFor(installation.id));
    // Sent while no worker runs: the workflow sees the reject with the install still queued, its credentials still in the inbox.
    const updateId = `reject-${installation.id}`;
    const rejected = handle.executeUpdate(rejectUpdate, { args: [{ reason: 'fraud check failed' }], updateId });
    await updateAdmitted(sys.client, workflowIdFor(installation.id), updateId);
    await startWorker();
    await rejected;
    const view = await finalView(sys.client, installation.id);
    assert.equal(view.phase, 'rejected');
    assert.ok(
      view.ignoredEvents.some((e) => e.eventId === event.id && /rejected by an operator/.test(e.reason)),
      JSON.stringify(view.ignoredEvents),
    );
    assert.deepEqual(
      sys.simulator.stateCalls(installation.id).map((c) => c.body),
      [{ state: 'reject', reason: 'Rejected by operator: fraud check failed' }],
    );
    assert.equal(sys.simulator.getInstallation(installation.id)?.state, 'rejected');
    assert.deepEqual([view.history.at(-1)?.result, view.history.at(-1)?.detail], ['rejected', 'Rejected by operator: fraud check failed']);
    assert.equal(await sys.store.accounts.getAccount(event.data.account_id), null, 'nothing provisioned');
    const creds = await sys.store.credentials.get(installation.id, event.data.client_id);
    assert.ok(!creds || creds.status === 'destroyed', `credentials left ${creds?.status}`);
  });
});
