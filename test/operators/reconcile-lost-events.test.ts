import assert from 'node:assert/strict';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { reconciliationActivities } from '../../activities/reconciliation';
import { createLogger } from '../../src/logging/logger';
import type { PartnerProvisioner } from '../../src/partner/provisioner';
import { TalkdeskClient } from '../../src/talkdesk/client';
import type { PageResult } from '../../workflows/reconcile-types';
import { workflowIdFor, type InstallationPhase, type InstallationView } from '../../workflows/definitions';
import { startActivityHarness, type ActivityHarness } from '../support/activity-harness';
import { lostEventsHelpers } from './reconcile-lost-support';
import { recordingTemporal } from '../support/recording-temporal';
import { MAX_HANDLED } from '../../workflows/state';

/**
 * Events a lost workflow had taken and not applied: the inbox marked them handed over, so only
 * reconciliation can hand them over again (activities/reconcile-resume.ts).
 */
describe('reconciliation hands over what a lost workflow left (FerretDB, simulator, recording Temporal client)', function () {
  this.timeout(60_000);
  let h: ActivityHarness;
  before(async () => (h = await startActivityHarness()));
  after(() => h?.close());

  const { at, reconcile, recorded, viewOf } = lostEventsHelpers(() => h);

  it('a record left installing whose install was handled (the run failed after ending it): started from the record', async () => {
    const t0 = Date.now() - 3_600_000;
    const { id, install, applied } = await recorded('installing', t0);
    await applied(0, [install.id]);
    const { result, handedOver, started, startInputs } = await reconcile(id, false);
    // Handing the install over again started nothing (already handled): the pass said `resumed` every time.
    assert.deepEqual(result.resumed, [id]);
    assert.deepEqual(started, [workflowIdFor(id)]);
    assert.equal(
      (startInputs[0] as { resumedByReconciliation?: boolean }).resumedByReconciliation,
      true,
      'its run marks nothing for the next pass',
    );
    assert.deepEqual(handedOver, []);
  });

  it('a record left updating by a late update (older than the one applied) hands over the update it names, not the newest', async () => {
    const t0 = Date.now() - 3_600_000;
    const { id, install, applied } = await recorded('updating', t0);
    const late = h.simulator.updateUsers(id, { add: 1 }, { createdAt: at(t0, 30) });
    const newest = h.simulator.updateUsers(id, { add: 1 }, { createdAt: at(t0, 60) });
    for (const e of [late, newest]) await h.storeEvent(e);
    await applied(60, [install.id, newest.id]);
    await h.store.installations.coll.updateOne({ _id: id }, { $set: { phaseEventId: late.id } });
    const { handedOver, result } = await reconcile(id, false);
    assert.deepEqual(result.resumed, [id]);
    assert.deepEqual(handedOver, [['app.updated', late.id]], 'the late update the lost run was applying, again');
  });

  it('a page whose attempt is cancelled stops before its next installation: nothing more visited, the attempt ends cancelled', async () => {
    const t0 = Date.now() - 3_600_000;
    const first = await recorded('active', t0);
    const second = await recorded('active', t0);
    const visited: string[] = [];
    let entered: () => void = () => undefined;
    const inFirst = new Promise<void>((r) => (entered = r));
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    // The partner calls of the first installation take a while (a partner not answering): the pass is cancelled then.
    const partner = {
      retryOutstanding: async (id: string) => {
        visited.push(id);
        if (visited.length === 1) {
          entered();
          await held;
        }
      },
    } as unknown as PartnerProvisioner;
    const { temporal } = recordingTemporal(true);
    const talkdesk = new TalkdeskClient({ allowedHosts: [`127.0.0.1:${h.simulator.port}`], timeoutMs: 5_000 });
    const acts = reconciliationActivities({ store: h.store, talkdesk, logger: createLogger({ level: 'silent' }), temporal, partner });
    const env = new MockActivityEnvironment();
    const page = env.run(acts.reconcileInstallations, { installationIds: [first.id, second.id] });
    await inFirst;
    env.cancel();
    release();
    await assert.rejects(page, (err: unknown) => err instanceof CancelledFailure);
    assert.deepEqual(visited, [first.id], 'the second installation is not visited');
  });

  it('an active record: the update and the uninstall the lost run had queued are handed over, oldest first', async () => {
    const t0 = Date.now() - 3_600_000;
    const { id, install, applied } = await recorded('active', t0);
    await applied(0, [install.id]);
    const trial = h.simulator.startTrial(id, at(t0, 86_400 * 30), { createdAt: at(t0, 30) });
    const update = h.simulator.updateUsers(id, { add: 1 }, { createdAt: at(t0, 60) });
    const uninstall = h.simulator.uninstall(id, undefined, { createdAt: at(t0, 120) });
    for (const e of [trial, update, uninstall]) await h.storeEvent(e);
    const { handedOver, started } = await reconcile(id, false);
    assert.deepEqual(started, [workflowIdFor(id)]);
    // Not the trial: it records nothing, so one applied would look unhandled.
    assert.deepEqual(handedOver, [
      ['app.updated', update.id],
      ['app.uninstalled', uninstall.id],
    ]);
  });

  describe('a run resumed from an active record (its workflow lost) while the lost run had an uninstall queued', () => {
    async function leftQueued() {
      const t0 = Date.now() - 3_600_000;
      const { id, install, applied } = await recorded('active', t0);
      await applied(0, [install.id]);
      const uninstall = h.simulator.uninstall(id, undefined, { createdAt: at(t0, 120) });
      await h.storeEvent(uninstall);
      return { id, install, uninstall };
    }

    /** The new run loads the record (marking it in `resumed_runs`; `load` false: marked already), then a planned page visits it. */
    async function plannedVisit(id: string, view?: InstallationView, load = true) {
      if (load) assert.ok(await h.run(h.acts.loadInstallation, { installationId: id }));
      const scanned = (await h.store.installations.scanForReconciliation()).find((r) => r._id === id);
      assert.ok(scanned?.resumedAt, 'marked by the run that loaded the live record (or the pass that started it)');
      const planId = `lost-${id}`;
      await h.store.reconcilePlans.write(planId, [[{ id, phase: 'active', running: true, resumedAt: scanned.resumedAt }]]);
      const { temporal, asked } = recordingTemporal(true, view);
      const talkdesk = new TalkdeskClient({ allowedHosts: [`127.0.0.1:${h.simulator.port}`], timeoutMs: 5_000 });
      const acts = reconciliationActivities({ store: h.store, talkdesk, logger: createLogger({ level: 'silent' }), temporal });
      const result = (await new MockActivityEnvironment().run(acts.reconcilePlannedPage, {
        planId,
        page: 0,
        startedAt: Date.now(),
      })) as PageResult;
      assert.deepEqual(result.errors, []);
      const marked = (await h.store.installations.scanForReconciliation()).find((r) => r._id === id)?.resumedAt;
      return {
        result,
        handedOver: asked.handedOver.map((e) => [e.type, e.eventId]),
        queries: asked.queries,
        marked,
        planned: scanned.resumedAt,
      };
    }

    it('is handed over when the running workflow does not know it, and the mark goes', async () => {
      const { id, install, uninstall } = await leftQueued();
      const { result, handedOver, marked } = await plannedVisit(id, viewOf(id, 'active', [install.id]));
      assert.deepEqual(result.resumed, [id]);
      assert.deepEqual(handedOver, [['app.uninstalled', uninstall.id]]);
      assert.equal(marked, undefined);
    });

    it('is handed over after the new run applied a newer event: judged by what the lost run had applied, as loaded', async () => {
      const { id, install, uninstall } = await leftQueued();
      assert.ok(await h.run(h.acts.loadInstallation, { installationId: id }));
      const update = h.simulator.updateUsers(id, { add: 1 }, { createdAt: new Date().toISOString() });
      await h.storeEvent(update);
      await h.store.installations.coll.updateOne(
        { _id: id },
        { $set: { lastEventAt: update.created_at, handledEventIds: [install.id, update.id] } },
      );
      const { handedOver, marked } = await plannedVisit(id, viewOf(id, 'active', [install.id, update.id]), false);
      assert.deepEqual([handedOver, marked], [[['app.uninstalled', uninstall.id]], undefined], 'not the update: the new run applied it');
    });

    it('the new run lost too, after applying a newer event: the pass resuming it hands over what the first lost run had queued', async () => {
      const { id, install, uninstall } = await leftQueued();
      assert.ok(await h.run(h.acts.loadInstallation, { installationId: id }));
      const update = h.simulator.updateUsers(id, { add: 1 }, { createdAt: new Date(Date.now() - 60_000).toISOString() });
      const rotation = h.simulator.rotateCredentials(id, {}, { createdAt: new Date().toISOString() });
      for (const e of [update, rotation]) await h.storeEvent(e);
      await h.store.installations.coll.updateOne(
        { _id: id },
        { $set: { lastEventAt: update.created_at, handledEventIds: [install.id, update.id] } },
      );
      // Its workflow is not running: the visit resumes it from the record, which shows the update applied.
      const { handedOver, started } = await reconcile(id, false);
      assert.deepEqual(started, [workflowIdFor(id)]);
      assert.deepEqual(handedOver, [
        ['app.uninstalled', uninstall.id],
        ['app.credentials_rotated', rotation.id],
      ]);
      assert.equal((await h.store.installations.scanForReconciliation()).find((r) => r._id === id)?.resumedAt, undefined);
    });

    /** A run resumed from the record (marked) applied an update, then twenty newer events: the record names neither. */
    async function appliedMoreThanKept(id: string): Promise<string[]> {
      assert.ok(await h.run(h.acts.loadInstallation, { installationId: id }));
      const applied = h.simulator.updateUsers(id, { add: 1 }, { createdAt: new Date(Date.now() - 60_000).toISOString() });
      await h.storeEvent(applied);
      const later = Array.from({ length: MAX_HANDLED }, (_, i) => `later-${id}-${i}`);
      await h.store.installations.coll.updateOne({ _id: id }, { $set: { lastEventAt: new Date().toISOString(), handledEventIds: later } });
      return later;
    }

    it('lost too after applying more events than the record keeps ids of: judged by the record, nothing applied handed over again', async () => {
      const { id } = await leftQueued();
      await appliedMoreThanKept(id);
      const { handedOver } = await reconcile(id, false);
      assert.deepEqual(handedOver, [], 'not the update the second run applied (nor the uninstall: older than the record shows)');
    });

    it('found running after applying more events than the record keeps ids of: judged by the record, nothing applied handed over again', async () => {
      const { id } = await leftQueued();
      // The mark not checked meanwhile; the running workflow shows none of those ids either.
      const later = await appliedMoreThanKept(id);
      const { handedOver, marked } = await plannedVisit(id, viewOf(id, 'active', later.slice(-3)), false);
      assert.deepEqual(handedOver, [], 'not the update it applied (applied twice), nor the uninstall older than the record shows');
      assert.equal(marked, undefined);
    });

    it('is not handed over when the workflow knows it; kept marked when its state cannot be read', async () => {
      const { id, install, uninstall } = await leftQueued();
      const known = await plannedVisit(id, viewOf(id, 'uninstalling', [install.id, uninstall.id]));
      assert.deepEqual([known.handedOver, known.result.resumed, known.queries, known.marked], [[], [], 1, undefined]);
      const unanswered = await plannedVisit(id);
      assert.deepEqual(unanswered.handedOver, []);
      assert.ok(unanswered.marked && unanswered.marked > unanswered.planned, 'asked again, marked anew: behind the other marks');
    });

    it("a run resumed from an uninstalling record that names a set destroyed since (a rotation's adopted) loads the active one", async () => {
      const t0 = Date.now() - 3_600_000;
      const { id, install } = await recorded('uninstalling', t0);
      const rotation = h.simulator.rotateCredentials(id, {}, { createdAt: at(t0, 60) });
      await h.storeEvent(rotation);
      const adopted = await h.run(h.acts.importCredentials, { installationId: id, eventId: rotation.id, activate: true });
      assert.notEqual(adopted.clientId, install.data.client_id);
      const loaded = await h.run(h.acts.loadInstallation, { installationId: id });
      assert.equal(loaded?.activeClientId, adopted.clientId, 'not the destroyed set the record names');
    });

    it('only a live record is marked when a new run loads it (an ended one starts a short run for a late event)', async () => {
      const marks = async (phase: InstallationPhase, byReconciliation?: boolean) => {
        const { id } = await recorded(phase, Date.now() - 3_600_000);
        await h.run(h.acts.loadInstallation, { installationId: id, byReconciliation });
        return (await h.store.installations.scanForReconciliation()).find((r) => r._id === id)?.resumedAt !== undefined;
      };
      assert.deepEqual(
        [await marks('active'), await marks('updating'), await marks('uninstalled'), await marks('new'), await marks('active', true)],
        [true, true, false, false, false],
        'nor when reconciliation started the run: it hands over what the lost run left itself',
      );
    });

    it('an active record no run resumed is not looked into: no inbox listing, no query', async () => {
      const { id, install } = await leftQueued();
      const inbox = h.store.inbox;
      const list = inbox.listForInstallation.bind(inbox);
      let listings = 0;
      inbox.listForInstallation = (...args) => ((listings += 1), list(...args));
      try {
        const { result, handedOver, queries } = await reconcile(id, true, viewOf(id, 'active', [install.id]));
        assert.deepEqual([result.resumed, handedOver, queries, listings], [[], [], 0, 0]);
      } finally {
        inbox.listForInstallation = list;
      }
    });

    it('a run the pass started whose hand-overs failed part-way is marked, so the next pass looks for what it did not get', async () => {
      const { id } = await leftQueued();
      const update = h.simulator.updateUsers(id, { add: 1 }, { createdAt: new Date(Date.now() - 3_000_000).toISOString() });
      await h.storeEvent(update);
      const { temporal, asked } = recordingTemporal(false, undefined, undefined, false, 1);
      const talkdesk = new TalkdeskClient({ allowedHosts: [`127.0.0.1:${h.simulator.port}`], timeoutMs: 5_000 });
      const acts = reconciliationActivities({ store: h.store, talkdesk, logger: createLogger({ level: 'silent' }), temporal });
      const result = (await new MockActivityEnvironment().run(acts.reconcileInstallations, { installationIds: [id] })) as PageResult;
      assert.equal(result.errors.length, 1, 'the failed hand-over is reported');
      assert.deepEqual([asked.started, asked.handedOver.length], [[workflowIdFor(id)], 1]);
      const marked = (await h.store.installations.scanForReconciliation()).find((r) => r._id === id)?.resumedAt;
      assert.ok(marked, 'marked for the next pass');
    });

    it('a start that landed with its answer lost is marked before it: the next pass finds the run and hands over what it lacks', async () => {
      const { id, install, uninstall } = await leftQueued();
      const { temporal, asked } = recordingTemporal(false, undefined, undefined, false, Infinity, true);
      const talkdesk = new TalkdeskClient({ allowedHosts: [`127.0.0.1:${h.simulator.port}`], timeoutMs: 5_000 });
      const acts = reconciliationActivities({ store: h.store, talkdesk, logger: createLogger({ level: 'silent' }), temporal });
      const result = (await new MockActivityEnvironment().run(acts.reconcileInstallations, { installationIds: [id] })) as PageResult;
      assert.equal(result.errors.length, 1, 'the lost answer is reported');
      assert.deepEqual([asked.started, asked.handedOver], [[workflowIdFor(id)], []]);
      // The next pass finds it running (the start landed) and, through the mark, hands the uninstall over.
      const next = await plannedVisit(id, viewOf(id, 'active', [install.id]), false);
      assert.deepEqual(next.handedOver, [['app.uninstalled', uninstall.id]]);
      assert.equal(next.marked, undefined, 'then the mark goes');
    });

    it('a resume that hands everything over leaves no mark', async () => {
      const { id, uninstall } = await leftQueued();
      const { handedOver, started } = await reconcile(id, false);
      assert.deepEqual([started, handedOver], [[workflowIdFor(id)], [['app.uninstalled', uninstall.id]]]);
      assert.equal((await h.store.installations.scanForReconciliation()).find((r) => r._id === id)?.resumedAt, undefined);
    });

    it('started by a hand-over between the pass finding it stopped and resuming it: the events are handed over all the same', async () => {
      const { id, uninstall } = await leftQueued();
      const { result, handedOver, started } = await reconcile(id, false, undefined, true);
      assert.deepEqual(result.resumed, [id]);
      assert.deepEqual(started, [], 'the start was refused: the workflow runs');
      assert.deepEqual(handedOver, [['app.uninstalled', uninstall.id]]);
    });
  });

  it('a record that ends while its partner calls are retried (an uninstall meanwhile) is read again: not resumed from the stale one', async () => {
    const t0 = Date.now() - 3_600_000;
    const { id, install, applied } = await recorded('active', t0);
    await applied(0, [install.id]);
    const uninstalledMeanwhile = {
      retryOutstanding: async () => {
        await h.store.installations.coll.updateOne({ _id: id }, { $set: { phase: 'uninstalled' } });
        return 0;
      },
    } as unknown as PartnerProvisioner;
    const { result, handedOver, started } = await reconcile(id, false, undefined, false, uninstalledMeanwhile);
    assert.deepEqual([result.resumed, handedOver, started], [[], [], []]);
  });

  it('a lost install with an uninstall and a reinstall queued: handed over in the order the workflow applies them', async () => {
    const t0 = Date.now() - 3_600_000;
    const { id, install, applied } = await recorded('installing', t0);
    await applied(0, []);
    const uninstall = h.simulator.uninstall(id, undefined, { createdAt: at(t0, 60) });
    // The same installation installed again (a reinstall keeps its id): the newest install, not the lost phase's.
    const reinstall = { ...install, id: `${install.id}-again`, created_at: at(t0, 120) };
    for (const e of [uninstall, reinstall]) await h.storeEvent(e);
    const { handedOver, started } = await reconcile(id, false);
    // The reinstall first would have started the run on it, and the uninstall arriving next would have ended it.
    assert.deepEqual(handedOver, [
      ['app.installed', install.id],
      ['app.uninstalled', uninstall.id],
      ['app.installed', reinstall.id],
    ]);
    assert.deepEqual(started, []);
  });
});
