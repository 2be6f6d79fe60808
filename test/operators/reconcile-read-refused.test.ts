import assert from 'node:assert/strict';
import { MockActivityEnvironment } from '@temporalio/testing';
import { reconciliationActivities } from '../../activities/reconciliation';
import { createLogger } from '../../src/logging/logger';
import { TalkdeskClient } from '../../src/talkdesk/client';
import type { PageResult } from '../../workflows/reconcile-types';
import type { InstallationPhase } from '../../workflows/definitions';
import { startActivityHarness, type ActivityHarness } from '../support/activity-harness';
import { recordingTemporal } from '../support/recording-temporal';
import { recordedInstallation } from './reconcile-decisions-support';

/** A planned pass's Talkdesk reads that Talkdesk refuses, redirects or rate-limits (FerretDB, simulator, recording Temporal client). */
describe('reconciliation: reads Talkdesk does not answer with a state', function () {
  this.timeout(60_000);
  let h: ActivityHarness;
  before(async () => (h = await startActivityHarness()));
  after(() => h?.close());
  const recorded = (phase: InstallationPhase, t0: number) => recordedInstallation(h, phase, t0);

  for (const [status, checked] of [
    [404, true], // Talkdesk no longer serves it (its uninstall lost): the same read would fail every pass
    [301, true], // a redirect, never followed: final too (before: first again every pass, taking the budget's reads)
    [503, false], // an outage: read again next pass, not pushed a window back
  ] as const)
    it(`an installation whose Talkdesk read is answered ${status} is ${checked ? '' : 'not '}recorded as checked`, async () => {
      const { id, record } = await recorded('active', Date.now() - 3_600_000);
      await record();
      const { temporal } = recordingTemporal(true);
      const talkdesk = new TalkdeskClient({ allowedHosts: [`127.0.0.1:${h.simulator.port}`], timeoutMs: 5_000 });
      const acts = reconciliationActivities({ store: h.store, talkdesk, logger: createLogger({ level: 'silent' }), temporal });
      const planId = `plan-${id}`;
      await h.store.reconcilePlans.write(planId, [[{ id, phase: 'active', slot: 0 }]], new Date());
      const before = (await h.store.installations.lastTalkdeskCheck(id))?.getTime() ?? 0;
      h.simulator.failNext('installation', 5, { status });
      const started = Date.now();
      const result = (await new MockActivityEnvironment().run(acts.reconcilePlannedPage, {
        planId,
        page: 0,
        startedAt: started,
      })) as PageResult;
      h.simulator.clearFaults();
      assert.deepEqual(
        result.errors.map((e) => e.installationId),
        [id],
      );
      const after = (await h.store.installations.lastTalkdeskCheck(id))?.getTime() ?? 0;
      if (checked) assert.ok(after >= started && after > before, `last check ${new Date(after).toISOString()}`);
      else assert.equal(after, before, 'the last check is unchanged');
    });

  it("after a 429 with Retry-After, the page's reads due inside the pause are left to the next pass, not sent nor waited for", async () => {
    const first = await recorded('active', Date.now() - 3_600_000);
    const second = await recorded('active', Date.now() - 3_600_000);
    await first.record();
    await second.record();
    const { temporal } = recordingTemporal(true);
    const talkdesk = new TalkdeskClient({ allowedHosts: [`127.0.0.1:${h.simulator.port}`], timeoutMs: 5_000 });
    const acts = reconciliationActivities({ store: h.store, talkdesk, logger: createLogger({ level: 'silent' }), temporal });
    const planId = `plan-${first.id}`;
    const slot = (id: string) => ({ id, phase: 'active' as const, slot: 0 });
    await h.store.reconcilePlans.write(planId, [[slot(first.id), slot(second.id)]], new Date());
    const reads: { id?: string; status: number }[] = [];
    const unsubscribe = h.simulator.onCall((c) => {
      if (c.route === 'installation') reads.push({ id: c.installationId, status: c.status });
    });
    h.simulator.failNext('installation', 1, { status: 429, retryAfterSeconds: 30 });
    const started = Date.now();
    let result: PageResult;
    try {
      result = (await new MockActivityEnvironment().run(acts.reconcilePlannedPage, { planId, page: 0, startedAt: started })) as PageResult;
    } finally {
      unsubscribe();
      h.simulator.clearFaults();
    }
    assert.deepEqual(
      reads.map((r) => [r.id, r.status]),
      [[first.id, 429]],
      'the second read is not sent inside the pause',
    );
    assert.deepEqual(
      result.errors.map((e) => e.installationId),
      [first.id, second.id],
    );
    assert.match(result.errors[1]?.message ?? '', /asked to slow down \(429\) for 3\d s more; read next pass/);
    // Neither recorded as checked: both are read again (first) next pass.
    for (const id of [first.id, second.id]) {
      assert.ok(((await h.store.installations.lastTalkdeskCheck(id))?.getTime() ?? 0) < started, id);
    }
  });
});
