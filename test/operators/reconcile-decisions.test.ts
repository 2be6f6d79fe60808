import assert from 'node:assert/strict';
import { MockActivityEnvironment } from '@temporalio/testing';
import { reconciliationActivities } from '../../activities/reconciliation';
import { createLogger } from '../../src/logging/logger';
import { COLLECTIONS } from '../../src/store';
import { TalkdeskClient } from '../../src/talkdesk/client';
import type { PageResult } from '../../workflows/reconcile-types';
import { workflowIdFor, type InstallationPhase } from '../../workflows/definitions';
import { startActivityHarness, type ActivityHarness } from '../support/activity-harness';
import { recordingTemporal } from '../support/recording-temporal';
import { recordedInstallation } from './reconcile-decisions-support';

/** Reconciliation's choices for one installation record, against FerretDB and the simulator (activities in-process). */
describe('reconciliation decides from the record (FerretDB, simulator, recording Temporal client)', function () {
  this.timeout(60_000);
  let h: ActivityHarness;
  before(async () => (h = await startActivityHarness()));
  after(() => h?.close());

  const at = (t0: number, seconds: number) => new Date(t0 + seconds * 1_000).toISOString();

  /**
   * One pass over one installation, as a page of the id-scan pass runs it (`planned`: a planned pass's page, which
   * records the read as a check); `whileRead` runs as Talkdesk is read.
   */
  async function reconcile(
    installationId: string,
    running: boolean,
    whileRead?: () => Promise<unknown>,
    planned?: { phase: InstallationPhase },
  ) {
    const { temporal, asked } = recordingTemporal(running);
    const talkdesk = new TalkdeskClient({ allowedHosts: [`127.0.0.1:${h.simulator.port}`], timeoutMs: 5_000 });
    const read = talkdesk.getInstallation.bind(talkdesk);
    talkdesk.getInstallation = async (...args) => {
      await whileRead?.();
      return read(...args);
    };
    const acts = reconciliationActivities({ store: h.store, talkdesk, logger: createLogger({ level: 'silent' }), temporal });
    const env = new MockActivityEnvironment();
    let result: PageResult;
    if (planned) {
      const planId = `plan-${installationId}-${Date.now()}`;
      await h.store.reconcilePlans.write(planId, [[{ id: installationId, phase: planned.phase, slot: 0 }]], new Date());
      result = (await env.run(acts.reconcilePlannedPage, { planId, page: 0, startedAt: Date.now() })) as PageResult;
    } else result = (await env.run(acts.reconcileInstallations, { installationIds: [installationId] })) as PageResult;
    assert.deepEqual(result.errors, []);
    return { result, asked };
  }

  const recorded = (phase: InstallationPhase, t0: number) => recordedInstallation(h, phase, t0);

  describe('a lost workflow of an unfinished phase is resumed with that phase event, not the newest of any type', () => {
    it('installing, with a trial event stored after the install: the install is handed over, not the trial', async () => {
      const t0 = Date.now() - 3_600_000;
      const { id, event, record } = await recorded('installing', t0);
      await h.storeEvent(h.simulator.startTrial(id, at(t0, 86_400 * 30), { createdAt: at(t0, 60) }));
      await record();
      const { result, asked } = await reconcile(id, false);
      assert.deepEqual(result.resumed, [id]);
      // Not the trial: a trial event does not record the installation when it ends, so one applied looks unhandled.
      assert.deepEqual(
        asked.handedOver.map((e) => [e.type, e.eventId]),
        [['app.installed', event.id]],
      );
    });

    it('updating, with a rotation stored after the update: the update is handed over, then the rotation', async () => {
      const t0 = Date.now() - 3_600_000;
      const { id, recordAs } = await recorded('updating', t0);
      await recordAs('active');
      const update = h.simulator.updateUsers(id, { add: 1 }, { createdAt: at(t0, 60) });
      await h.storeEvent(update);
      const rotation = h.simulator.rotateCredentials(id, {}, { createdAt: at(t0, 120) });
      await h.storeEvent(rotation);
      await recordAs('updating');
      const { asked } = await reconcile(id, false);
      assert.deepEqual(
        asked.handedOver.map((e) => [e.type, e.eventId]),
        [
          ['app.updated', update.id],
          ['app.credentials_rotated', rotation.id],
        ],
      );
    });

    it('active, with a rotation the lost run had not handled: resumed, then the rotation handed over (its acknowledgement is still owed)', async () => {
      const t0 = Date.now() - 3_600_000;
      const { id, event, record } = await recorded('active', t0);
      await record();
      await h.store.installations.coll.updateOne({ _id: id }, { $set: { lastEventAt: at(t0, 0), handledEventIds: [event.id] } });
      const rotation = h.simulator.rotateCredentials(id, { compromised: false }, { createdAt: at(t0, 60) });
      await h.storeEvent(rotation);
      const { result, asked } = await reconcile(id, false);
      assert.deepEqual(result.resumed, [id]);
      assert.deepEqual(asked.started, [workflowIdFor(id)]);
      assert.deepEqual(
        asked.handedOver.map((e) => [e.type, e.eventId]),
        [['app.credentials_rotated', rotation.id]],
      );
    });

    it('active: events it handled, and older ones than the newest applied, are not handed over again', async () => {
      const t0 = Date.now() - 3_600_000;
      const { id, event, record } = await recorded('active', t0);
      await record();
      const old = h.simulator.startTrial(id, at(t0, 86_400 * 30), { createdAt: at(t0, 30) });
      const handled = h.simulator.rotateCredentials(id, { compromised: false }, { createdAt: at(t0, 120) });
      await h.storeEvent(old);
      await h.storeEvent(handled);
      // The trial fell out of the last handled ids; the rotation was the newest applied.
      await h.store.installations.coll.updateOne(
        { _id: id },
        { $set: { lastEventAt: at(t0, 120), handledEventIds: [event.id, handled.id] } },
      );
      // One of the same second that fell out of them too, and is the set in use: switched to already.
      const switched = h.simulator.rotateCredentials(id, { compromised: false }, { createdAt: at(t0, 120) });
      await h.storeEvent(switched);
      await h.store.installations.coll.updateOne({ _id: id }, { $set: { activeClientId: switched.data.client_id } });
      const { result, asked } = await reconcile(id, false);
      assert.deepEqual(result.resumed, [id]);
      assert.deepEqual(asked.started, [workflowIdFor(id)]);
      assert.deepEqual(asked.handedOver, []);
    });

    it('installing with no install event stored: the newest event is handed over, as before', async () => {
      const t0 = Date.now() - 3_600_000;
      const { id, event, record } = await recorded('installing', t0);
      await h.db.collection(COLLECTIONS.inbox).deleteOne({ _id: event.id as never });
      const trial = h.simulator.startTrial(id, at(t0, 86_400 * 30), { createdAt: at(t0, 60) });
      await h.storeEvent(trial);
      await record();
      const { asked } = await reconcile(id, false);
      assert.deepEqual(
        asked.handedOver.map((e) => e.eventId),
        [trial.id],
      );
    });
  });

  describe('a Talkdesk timeout past installing never deprovisions without knowing which operation timed out', () => {
    /** The record as a version before `installApprovedAt` left it: approved (and active) without it. */
    const withoutInstallApproval = (id: string) => h.store.installations.coll.updateOne({ _id: id }, { $unset: { installApprovedAt: '' } });

    it('an update of a record older than installApprovedAt (approvedAt only) is ended; the installation stays', async () => {
      const { id, recordAs } = await recorded('updating', Date.now() - 3_600_000);
      await recordAs('active');
      await recordAs('updating');
      await withoutInstallApproval(id);
      const rec = await h.store.installations.get(id);
      assert.ok(rec?.approvedAt && !rec.installApprovedAt, 'a legacy record: approvedAt, no installApprovedAt');
      h.simulator.setInstallationState(id, 'timeout', 'customer took too long');
      const { result, asked } = await reconcile(id, true);
      assert.deepEqual([result.updatesEnded, result.deprovisioned], [[id], []]);
      // `seen`: the record it was judged on (written before phaseEventId, it names no event).
      const seen = { phase: 'updating' };
      assert.deepEqual(asked.signals, [{ action: 'endUpdate', talkdeskState: 'timeout', reason: 'customer took too long', seen }]);
    });

    it('a record with no evidence of an approval is reported as drift, not deprovisioned', async () => {
      const { id, record } = await recorded('active', Date.now() - 3_600_000);
      await record();
      await withoutInstallApproval(id);
      await h.store.installations.coll.updateOne({ _id: id }, { $unset: { approvedAt: '' } });
      h.simulator.setInstallationState(id, 'timeout');
      const { result, asked } = await reconcile(id, true);
      assert.deepEqual([result.drift, result.deprovisioned], [[id], []]);
      assert.deepEqual(asked.signals, []);
    });

    it('a phase that moved while Talkdesk was read (install approved, then an update rejected) is not repaired from the old record', async () => {
      const { id, record, recordAs } = await recorded('installing', Date.now() - 3_600_000);
      await record();
      h.simulator.setInstallationState(id, 'rejected');
      const before = (await h.store.installations.lastTalkdeskCheck(id))?.getTime();
      // A planned pass's page, the one that records its reads as checks.
      const { result, asked } = await reconcile(id, true, () => recordAs('active'), { phase: 'installing' });
      assert.deepEqual([result.deprovisioned, asked.signals], [[], []], 'before: deprovisioned, its only credentials destroyed');
      assert.equal((await h.store.installations.lastTalkdeskCheck(id))?.getTime(), before, 'not recorded as checked: due next pass');
      // The same page once nothing moves during the read: recorded as checked (what the assertion above tells apart).
      h.simulator.setInstallationState(id, 'completed');
      await reconcile(id, true, undefined, { phase: 'active' });
      assert.notEqual((await h.store.installations.lastTalkdeskCheck(id))?.getTime(), before, 'a read with nothing moved is a check');
    });

    it('an install that timed out is still deprovisioned, the signal naming the install it was judged on', async () => {
      const { id, event, recordAs } = await recorded('installing', Date.now() - 3_600_000);
      await recordAs('installing', { phaseEventId: event.id });
      h.simulator.setInstallationState(id, 'timeout');
      const { result, asked } = await reconcile(id, true);
      assert.deepEqual(result.deprovisioned, [id]);
      // A workflow that has begun another operation since ignores it (reconcile-action-of-operation-seen).
      const seen = { phase: 'installing', phaseEventId: event.id };
      assert.deepEqual(asked.signals, [{ action: 'deprovision', talkdeskState: 'timeout', reason: undefined, seen }]);
    });
  });

  /** A slow call: held until two heartbeats came while it ran, or 20 s (a condition with a deadline, not a timed sleep). */
  const twoBeats = async (count: () => number) => {
    for (const end = Date.now() + 20_000; count() < 2 && Date.now() < end;) await new Promise((r) => setTimeout(r, 100));
  };

  it("keeps heartbeating while a slow partner holds the installation's retried calls (the page outlived its heartbeat timeout)", async () => {
    const { id, record } = await recorded('active', Date.now() - 3_600_000);
    await record();
    const { temporal } = recordingTemporal(true);
    const talkdesk = new TalkdeskClient({ allowedHosts: [`127.0.0.1:${h.simulator.port}`], timeoutMs: 5_000 });
    let during = 0;
    let retrying = false;
    // A partner that no longer answers: its retried calls hold for their timeouts, several in a row.
    const partner = {
      retryOutstanding: async () => {
        retrying = true;
        await twoBeats(() => during); // held until two heartbeats came (the assertion fails if none does in 20 s)
        retrying = false;
        return 1;
      },
    };
    const logger = createLogger({ level: 'silent' });
    const acts = reconciliationActivities({ store: h.store, talkdesk, logger, temporal, partner: partner as never });
    const env = new MockActivityEnvironment();
    env.on('heartbeat', () => void (retrying && (during += 1)));
    const result = (await env.run(acts.reconcileInstallations, { installationIds: [id] })) as PageResult;
    assert.deepEqual(result.errors, []);
    assert.ok(during >= 2, `${during} heartbeats while the partner calls ran`);
  });

  it('keeps heartbeating while Talkdesk is slow to answer its read (a token and a read can take a client timeout each)', async () => {
    const { id, record } = await recorded('active', Date.now() - 3_600_000);
    await record();
    const talkdesk = new TalkdeskClient({ allowedHosts: [`127.0.0.1:${h.simulator.port}`], timeoutMs: 5_000 });
    const read = talkdesk.getInstallation.bind(talkdesk);
    const beats = { reading: false, during: 0, reads: 0 };
    talkdesk.getInstallation = async (...args) => {
      Object.assign(beats, { reading: true, reads: beats.reads + 1 });
      await twoBeats(() => beats.during);
      beats.reading = false;
      return read(...args);
    };
    const { temporal } = recordingTemporal(true);
    const acts = reconciliationActivities({ store: h.store, talkdesk, logger: createLogger({ level: 'silent' }), temporal });
    const env = new MockActivityEnvironment();
    env.on('heartbeat', () => void (beats.reading && (beats.during += 1)));
    const result = (await env.run(acts.reconcileInstallations, { installationIds: [id] })) as PageResult;
    assert.deepEqual([result.errors, beats.reads], [[], 1]);
    assert.ok(beats.during >= 2, `${beats.during} heartbeats while Talkdesk was read`);
  });

  it("a reinstall's record no longer names the set destroyed at the uninstall: the pass reads Talkdesk with the new set", async () => {
    const t0 = Date.now() - 3_600_000;
    const { id, recordAs } = await recorded('uninstalled', t0);
    await recordAs('uninstalled');
    await h.store.credentials.destroyAll(id);
    // The reinstall's credentials (a set Talkdesk serves tokens for), imported after its phase was recorded without them.
    const reinstall = h.simulator.rotateCredentials(id, {}, { createdAt: at(t0, 600) });
    await h.storeEvent(reinstall);
    const base = {
      installationId: id,
      workflowId: workflowIdFor(id),
      appId: h.simulator.appId,
      links: (await h.store.installations.get(id))!.links,
    };
    await h.run(h.acts.recordInstallation, { ...base, phase: 'installing' });
    await h.run(h.acts.importCredentials, { installationId: id, eventId: reinstall.id, activate: true });
    assert.equal((await h.store.installations.get(id))?.activeClientId, undefined);
    // Named, it was read with the destroyed set: "no usable credentials" every pass of the install (reconcile asserts none).
    const readsBefore = h.simulator.calls.filter((c) => c.route === 'installation' && c.installationId === id).length;
    await reconcile(id, true);
    const reads = h.simulator.calls.filter((c) => c.route === 'installation' && c.installationId === id).slice(readsBefore);
    assert.deepEqual(
      reads.map((c) => [c.status, c.clientId]),
      [[200, reinstall.data.client_id]],
      "read at Talkdesk (not skipped), with a token of the reinstall's set",
    );
  });

  for (const shown of ['suspended', 'failed'] as const)
    it(`an active installation Talkdesk shows ${shown} is reported as drift (not taken as in sync)`, async () => {
      const { id, record } = await recorded('active', Date.now() - 3_600_000);
      await record();
      h.simulator.setInstallationState(id, shown);
      const { result, asked } = await reconcile(id, true);
      assert.deepEqual(result.drift, [id]);
      assert.deepEqual([asked.signals, asked.handedOver], [[], []], 'nothing repaired');
    });
});
