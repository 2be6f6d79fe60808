import assert from 'node:assert/strict';
import { MockActivityEnvironment } from '@temporalio/testing';
import { reconciliationActivities } from '../../activities/reconciliation';
import { createLogger } from '../../src/logging/logger';
import { TalkdeskClient } from '../../src/talkdesk/client';
import type { PageResult } from '../../workflows/reconcile-types';
import { startActivityHarness, type ActivityHarness } from '../support/activity-harness';
import { recordingTemporal } from '../support/recording-temporal';

/**
 * The per-minute Talkdesk budget (RECONCILE_TALKDESK_CALLS_PER_MINUTE) is spent as a read is sent: a visit that
 * sends none (an ended installation with nothing to read Talkdesk with) leaves its turn to the next one.
 */
describe('reconciliation spends its read budget as reads are sent (FerretDB, simulator, recording Temporal client)', function () {
  this.timeout(120_000);
  let h: ActivityHarness;
  before(async () => (h = await startActivityHarness()));
  after(() => h?.close());

  it('a visit that reads nothing takes no turn: the read after it, in the same minute of a 1-a-minute budget, does not wait', async () => {
    // Ended, its credentials destroyed (as an uninstall leaves it), not yet known to have nothing to read with: slotted.
    const ended = await h.installing(1);
    await h.run(h.acts.destroyCredentials, { installationId: ended.installation.id });
    await h.run(h.acts.recordInstallation, { ...ended.base, phase: 'uninstalled', activeClientId: undefined });
    const active = await h.installing(1);
    await h.run(h.acts.recordInstallation, { ...active.base, phase: 'active', activeClientId: active.clientId });
    h.simulator.setInstallationState(active.installation.id, 'completed');

    const planId = `budget-at-send-${ended.installation.id}`;
    await h.store.reconcilePlans.write(planId, [
      [
        { id: ended.installation.id, phase: 'uninstalled', slot: 0 },
        { id: active.installation.id, phase: 'active', slot: 0, running: true },
      ],
    ]);
    const { temporal } = recordingTemporal(true);
    const talkdesk = new TalkdeskClient({ allowedHosts: [`127.0.0.1:${h.simulator.port}`], timeoutMs: 5_000 });
    const acts = reconciliationActivities({ store: h.store, talkdesk, logger: createLogger({ level: 'silent' }), temporal });
    const env = new MockActivityEnvironment();
    const waited: unknown[] = [];
    env.on('heartbeat', (d: unknown) => void (typeof d === 'string' && d.startsWith('budget of') && waited.push(d)));
    const result = (await env.run(acts.reconcilePlannedPage, { planId, page: 0, startedAt: Date.now(), callsPerMinute: 1 })) as PageResult;
    assert.deepEqual(result.errors, []);
    assert.equal(result.talkdeskChecked, 1, 'the active installation read');
    assert.deepEqual(waited, [], "no wait for the budget: the ended installation's visit took no turn");
    const gets = h.simulator.calls.filter((c) => c.route === 'installation' && c.installationId === active.installation.id);
    assert.equal(gets.length, 1);
  });

  it('a visit whose lost workflow was started meanwhile (by a hand-over) reads nothing and is not recorded as checked: still due', async () => {
    const active = await h.installing(1);
    const id = active.installation.id;
    await h.run(h.acts.recordInstallation, { ...active.base, phase: 'active', activeClientId: active.clientId });
    const planId = `started-meanwhile-${id}`;
    await h.store.reconcilePlans.write(planId, [[{ id, phase: 'active', slot: 0 }]]);
    // Not running at the first describe, running at the second (read again after the record).
    const { temporal, asked } = recordingTemporal(false, undefined, undefined, false, Infinity, false, 1);
    const talkdesk = new TalkdeskClient({ allowedHosts: [`127.0.0.1:${h.simulator.port}`], timeoutMs: 5_000 });
    const acts = reconciliationActivities({ store: h.store, talkdesk, logger: createLogger({ level: 'silent' }), temporal });
    const before = await h.store.installations.lastTalkdeskCheck(id);
    const result = (await new MockActivityEnvironment().run(acts.reconcilePlannedPage, {
      planId,
      page: 0,
      startedAt: Date.now(),
      callsPerMinute: 1,
    })) as PageResult;
    assert.deepEqual([result.errors, result.talkdeskChecked], [[], 0]);
    assert.deepEqual([asked.started, asked.handedOver], [[], []], 'nothing started: it runs');
    assert.equal(h.simulator.calls.filter((c) => c.route === 'installation' && c.installationId === id).length, 0, 'Talkdesk not read');
    assert.deepEqual(await h.store.installations.lastTalkdeskCheck(id), before, 'not recorded as checked: due at the next pass');
  });
});
