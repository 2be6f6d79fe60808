import assert from 'node:assert/strict';
import { toLifecycleEvent } from '../../src/events/lifecycle';
import { talkdeskEventSchema } from '../../src/events/schemas';
import { eventSignal, workflowIdFor } from '../../workflows/definitions';
import { startSystem, type TestSystem } from '../support/system';
import { eventually, queryState, waitForPhase } from '../support/waits';

describe('continue-as-new keeps a long-lived installation small', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  before(async () => {
    // Three events per run, so a handful of events crosses several runs.
    sys = await startSystem({ workflowOptions: { maxEventsPerRun: 3 } });
  });
  after(async () => {
    await sys?.close();
  });

  it('carries the whole state into the next run and keeps working', async () => {
    const { installation, event } = sys.simulator.createInstallation({ licensedUsers: 2 });
    const deliver = (e: unknown) => sys.simulator.deliver(e as never, { callbackUrl: sys.web.callbackUrl });
    await deliver(event);
    await waitForPhase(sys.client, installation.id, 'active');
    const firstRun = (await sys.client.workflow.getHandle(workflowIdFor(installation.id)).describe()).runId;
    await deliver(sys.simulator.startTrial(installation.id, new Date(Date.now() + 86_400_000)));
    await deliver(sys.simulator.endTrial(installation.id, { reason: 'trial_expired', by: 'system' }));

    const handle = sys.client.workflow.getHandle(workflowIdFor(installation.id));
    await eventually('a new run', async () => ((await handle.describe()).runId !== firstRun ? true : undefined));
    const old = await sys.client.workflow.getHandle(workflowIdFor(installation.id), firstRun).describe();
    assert.equal(old.status.name, 'CONTINUED_AS_NEW');

    // The new run knows everything the old one did...
    const carried = await waitForPhase(sys.client, installation.id, 'active');
    assert.equal(carried.appliedEvents, 3);
    assert.equal(carried.activeClientId, event.data.client_id);
    assert.equal(carried.trial?.endedReason, 'trial_expired');
    assert.deepEqual([carried.history[0]?.phase, carried.history[0]?.result], ['installing', 'approved']);

    // ...and keeps working: an update and a repeat of an old event id.
    await deliver(sys.simulator.updateUsers(installation.id, { add: 1 }));
    const after = await eventually('the update', async () => {
      const v = await waitForPhase(sys.client, installation.id, 'active');
      return v.appliedEvents === 4 ? v : undefined;
    });
    assert.deepEqual([after.history.at(-1)?.phase, after.history.at(-1)?.result], ['updating', 'approved']);
    assert.equal((await sys.store.accounts.listUsers(event.data.account_id)).length, 3);
    assert.equal(sys.simulator.stateCalls(installation.id).length, 2);

    // The install (handled by the first run) handed over again, as the hand-over would after a
    // lost acknowledgement: straight to the workflow, since the callback's inbox answers an
    // already dispatched duplicate itself. The carried state must know its id.
    const talkdeskCalls: string[] = [];
    const unsubscribe = sys.simulator.onCall((c) => {
      if (c.installationId === installation.id) talkdeskCalls.push(`${c.method} ${c.path}`);
    });
    const before = await queryState(sys.client, installation.id);
    assert.ok(!before.ignoredEvents.some((i) => i.eventId === event.id), 'the install was not ignored before being repeated');
    await handle.signal(eventSignal, toLifecycleEvent(talkdeskEventSchema.parse(event)));
    const ignored = await eventually('the repeated install ignored', async () => {
      const v = await queryState(sys.client, installation.id);
      return v.ignoredEvents.some((i) => i.eventId === event.id) ? v : undefined;
    });
    assert.deepEqual(ignored.ignoredEvents, [...before.ignoredEvents, { eventId: event.id, reason: 'duplicate delivery' }]);
    // Nothing applied twice: no new phase, no new Talkdesk call, no event queued, the account unchanged.
    const settled = await waitForPhase(sys.client, installation.id, 'active');
    assert.equal(settled.appliedEvents, 4);
    assert.deepEqual(settled.history, after.history);
    assert.deepEqual(settled.pendingEvents, []);
    assert.equal(sys.simulator.stateCalls(installation.id).length, 2);
    unsubscribe();
    assert.deepEqual(talkdeskCalls, []);
    assert.equal((await sys.store.accounts.listUsers(event.data.account_id)).length, 3);
  });
});
