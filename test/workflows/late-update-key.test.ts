import assert from 'node:assert/strict';
import { defaultPayloadConverter } from '@temporalio/common';
import type { InstallationInput } from '../../workflows/installation/workflow';
import type { InstallationState } from '../../workflows/state';
import { ActivityStubs, unavailable, useInstallationUnderTest, type InstallationUnderTest } from './harness';
import { approvedEntry, midPhaseBase } from './carried-state';

const APPLY = 'apply the update (users and subscription)';

/**
 * A late update's calls are keyed by the newest update applied when its phase began (`lateAfter`, patch
 * late-update-keyed-by-newest-applied): the same for every attempt of its phase, across a continue-as-new mid-phase
 * too; a phase a run from before the patch began keeps the event's key when carried over (activities/update-keys.ts).
 */
describe('installation workflow: the key of a late update', function () {
  this.timeout(120_000);
  const { env, start } = useInstallationUnderTest();

  it('every attempt, in every run of a phase cut by continue-as-new, names the same newest update applied', async () => {
    let failures = 24;
    const stubs = new ActivityStubs().on('applyUpdate', async (i) => {
      if (i.resyncUsers && failures-- > 0) throw unavailable();
      return { usersAdded: [], usersDeactivated: [] };
    });
    const t = await start(stubs, { retryInitialMs: 1_000, retryMaxMs: 4_000, maxHistoryEventsPerRun: 90 });
    await t.send(t.event('app.installed'));
    await t.settled('active');
    const newer = t.event('app.updated', { atSeconds: 20 });
    await t.send(newer);
    await t.settled('active', (v) => v.appliedEvents === 2);
    await t.send(t.event('app.updated', { atSeconds: 10 }));
    await env().sleep('1 hour');
    await t.settled('active', (v) => v.appliedEvents === 3);

    const late = stubs.of('applyUpdate').filter((i) => i.resyncUsers);
    assert.equal(late.length, 25);
    assert.deepEqual([...new Set(late.map((i) => i.lateAfter))], [newer.createdAt], 'one key for the whole phase');
    assert.equal(stubs.of('applyUpdate')[0]?.lateAfter, undefined, 'an update in order is keyed by its event');
    const latest = await t.handle.fetchHistory();
    const input = defaultPayloadConverter.fromPayload<InstallationInput>(
      latest.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!,
    );
    assert.ok(input.carried, 'the phase was carried over by continue-as-new');
  });

  /** The state a run handed over when cut while applying a late update (`lateKeyed`: as this version's runs carry it). */
  const carried = (t: InstallationUnderTest, lateKeyed?: boolean): InstallationState => {
    const install = t.event('app.installed', { id: 'install-1', atSeconds: -3_600 });
    const newer = t.event('app.updated', { id: 'update-newer', atSeconds: -60 });
    const late = t.event('app.updated', { id: 'update-late', atSeconds: -120 });
    return {
      ...midPhaseBase(t, install, 'updating'),
      activeClientId: 'client-1',
      history: [
        approvedEntry(install, 'installing'),
        approvedEntry(newer, 'updating'),
        { phase: 'updating', eventId: late.eventId, startedAt: new Date(t.t0).toISOString() },
      ],
      currentStep: APPLY,
      seenEventIds: [install.eventId, newer.eventId, late.eventId],
      handledEventIds: [install.eventId, newer.eventId],
      lastAppliedAt: newer.createdAt,
      appliedAt: { install: install.createdAt, update: newer.createdAt },
      appliedEvents: 2,
      resume: {
        event: late,
        late: true,
        step: APPLY,
        attempt: 1,
        retryAt: new Date(t.t0 + 1_000).toISOString(),
        ...(lateKeyed ? { lateKeyed } : {}),
      },
    };
  };

  for (const [what, lateKeyed, expected] of [
    ["carried by a run from before the patch: the event's key kept", undefined, undefined],
    ['carried by a run that keyed it so: the newest update applied kept', true, 'newer'],
  ] as const) {
    it(`a late update re-entered after continue-as-new, ${what}`, async () => {
      const t = await start(
        new ActivityStubs(),
        {},
        { carried: (u) => carried(u, lateKeyed), first: (u) => u.event('app.installed', { id: 'install-1', atSeconds: -3_600 }) },
      );
      await t.settled('active', (v) => v.appliedEvents === 3);
      const [call] = t.stubs.of('applyUpdate');
      assert.equal(call?.resyncUsers, true);
      const newerAt = t.event('app.updated', { id: 'update-newer', atSeconds: -60 }).createdAt;
      assert.equal(call?.lateAfter, expected === 'newer' ? newerAt : undefined);
    });
  }
});
