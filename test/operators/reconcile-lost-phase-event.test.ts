import assert from 'node:assert/strict';
import { MockActivityEnvironment } from '@temporalio/testing';
import { reconciliationActivities } from '../../activities/reconciliation';
import { createLogger } from '../../src/logging/logger';
import { TalkdeskClient } from '../../src/talkdesk/client';
import type { PageResult } from '../../workflows/reconcile-types';
import { startActivityHarness, type ActivityHarness } from '../support/activity-harness';
import { recordingTemporal } from '../support/recording-temporal';
import { lostEventsHelpers } from './reconcile-lost-support';

/** A record left in a phase whose event a running workflow may not know (activities/reconcile-resume.ts). */
describe("reconciliation: a record left updating, its workflow running again (a later event started a new run): the update's event", function () {
  this.timeout(60_000);
  let h: ActivityHarness;
  before(async () => (h = await startActivityHarness()));
  after(() => h?.close());

  const { at, reconcile, recorded, viewOf } = lostEventsHelpers(() => h);

  /** `named`: the record names the update as its phase's event (`phaseEventId`, as the workflow writes it). */
  async function leftUpdating(named = false) {
    const t0 = Date.now() - 3_600_000;
    const { id, install, applied } = await recorded('updating', t0);
    const update = h.simulator.updateUsers(id, { add: 1 }, { createdAt: at(t0, 60) });
    await h.storeEvent(update);
    await applied(60, [install.id]);
    if (named) await h.store.installations.coll.updateOne({ _id: id }, { $set: { phaseEventId: update.id } });
    return { id, install, update, t0 };
  }

  /** Counts the inbox listings by installation: a read of the whole collection on the embedded store. */
  function countListings(): { listings: number; restore: () => void } {
    const inbox = h.store.inbox;
    const list = inbox.listForInstallation.bind(inbox);
    const counted = { listings: 0, restore: () => void (inbox.listForInstallation = list) };
    inbox.listForInstallation = (...args) => {
      counted.listings += 1;
      return list(...args);
    };
    return counted;
  }

  it('is handed over when the running workflow does not know it', async () => {
    for (const named of [false, true]) {
      const { id, install, update } = await leftUpdating(named);
      const { result, handedOver } = await reconcile(id, true, viewOf(id, 'active', [install.id]));
      assert.deepEqual(result.resumed, [id]);
      assert.deepEqual(handedOver, [['app.updated', update.id]]);
    }
  });

  it('is not handed over again when the workflow has it (its phase under way), nor when its state cannot be read', async () => {
    const { id, install, update } = await leftUpdating();
    const known = await reconcile(id, true, viewOf(id, 'updating', [install.id, update.id]));
    assert.deepEqual([known.handedOver, known.result.resumed], [[], []]);
    const unanswered = await reconcile(id, true);
    assert.deepEqual([unanswered.handedOver, unanswered.result.resumed], [[], []]);
  });

  it('named and known to the workflow: the workflow is asked first, and the inbox is not listed', async () => {
    const { id, install, update } = await leftUpdating(true);
    const counted = countListings();
    try {
      const known = await reconcile(id, true, viewOf(id, 'updating', [install.id, update.id]));
      assert.deepEqual([known.handedOver, known.queries, counted.listings], [[], 1, 0]);
      const unknown = await reconcile(id, true, viewOf(id, 'active', [install.id]));
      assert.deepEqual([unknown.handedOver, unknown.queries, counted.listings], [[['app.updated', update.id]], 1, 1], 'asked once');
    } finally {
      counted.restore();
    }
  });

  it('handed over part-way (Temporal stopped answering): marked, so the next pass hands over what the workflow still lacks', async () => {
    const { id, install, update, t0 } = await leftUpdating(true);
    const uninstall = h.simulator.uninstall(id, undefined, { createdAt: at(t0, 120) });
    await h.storeEvent(uninstall);
    const { temporal, asked } = recordingTemporal(true, viewOf(id, 'active', [install.id]), undefined, false, 1);
    const talkdesk = new TalkdeskClient({ allowedHosts: [`127.0.0.1:${h.simulator.port}`], timeoutMs: 5_000 });
    const acts = reconciliationActivities({ store: h.store, talkdesk, logger: createLogger({ level: 'silent' }), temporal });
    const result = (await new MockActivityEnvironment().run(acts.reconcileInstallations, { installationIds: [id] })) as PageResult;
    assert.equal(result.errors.length, 1, 'the failed hand-over is reported');
    assert.deepEqual(
      asked.handedOver.map((e) => e.eventId),
      [update.id],
    );
    const marked = (await h.store.installations.scanForReconciliation()).find((r) => r._id === id)?.resumedAt;
    assert.ok(marked, 'marked: the workflow now knows the update, and only the mark makes a pass list what it lacks');
  });
});
