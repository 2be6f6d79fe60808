import assert from 'node:assert/strict';
import { MockActivityEnvironment } from '@temporalio/testing';
import { reconciliationActivities } from '../../activities/reconciliation';
import { createLogger } from '../../src/logging/logger';
import { connectDatabase, createStore, type Database } from '../../src/store';
import { TalkdeskClient } from '../../src/talkdesk/client';
import type { PageResult } from '../../workflows/reconcile-types';
import { startActivityHarness, type ActivityHarness } from '../support/activity-harness';
import { throughProxy } from '../support/mongo-proxy';
import { recordingTemporal } from '../support/recording-temporal';
import { mongoUri } from '../support/servers';
import { hostPort, startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { recordedInstallation } from './reconcile-decisions-support';

/**
 * A reconciliation page whose MongoDB goes away once its plan is read (a real FerretDB behind a proxy that cuts it):
 * each installation it could not read is reported in the page's errors, nothing is sent to Talkdesk or Temporal and
 * nothing is recorded as checked; run again once the store is back, the page reads and repairs.
 */
describe('reconciliation with MongoDB cut off mid-page (FerretDB behind a proxy, simulator, recording Temporal)', function () {
  this.timeout(90_000);
  let h: ActivityHarness;
  let proxy: TcpProxy;
  let cut: Database;
  before(async () => {
    h = await startActivityHarness();
    const uri = await mongoUri();
    const { host, port } = hostPort(uri);
    proxy = await startTcpProxy(host, port);
    cut = await connectDatabase(throughProxy(uri, proxy), h.db.db.databaseName);
  });
  after(async () => {
    await cut?.close();
    await proxy?.close();
    await h?.close();
  });

  it('reports the installation it could not read, sends and marks nothing; run again with the store back, it repairs', async () => {
    const { id, record } = await recordedInstallation(h, 'active', Date.now() - 3_600_000);
    await record();
    h.simulator.setInstallationState(id, 'revoked'); // drift the page would repair
    const store = createStore(cut, h.keyring);
    const { temporal, asked } = recordingTemporal(true);
    const talkdesk = new TalkdeskClient({ allowedHosts: [`127.0.0.1:${h.simulator.port}`], timeoutMs: 5_000 });
    const acts = reconciliationActivities({ store, talkdesk, logger: createLogger({ level: 'silent' }), temporal });
    const planId = `plan-store-down-${id}`;
    await h.store.reconcilePlans.write(planId, [[{ id, phase: 'active', slot: 0 }]], new Date());
    const readPage = store.reconcilePlans.page.bind(store.reconcilePlans);
    let cutOnce = true;
    store.reconcilePlans.page = async (...args) => {
      const entries = await readPage(...args);
      if (cutOnce) proxy.block(); // the store goes away once the page's plan is read
      cutOnce = false;
      return entries;
    };
    // Back once the installation's read has failed: a check wrongly recorded after it would land (and be seen).
    const get = store.installations.get.bind(store.installations);
    store.installations.get = (...args) =>
      get(...args).catch((err: unknown) => {
        proxy.unblock();
        throw err;
      });
    const talkdeskCalls = () => h.simulator.calls.filter((c) => c.installationId === id).length;
    const callsBefore = talkdeskCalls();
    const env = new MockActivityEnvironment({ startToCloseTimeoutMs: 60_000 });
    const page = () => env.run(acts.reconcilePlannedPage, { planId, page: 0, startedAt: Date.now() }) as Promise<PageResult>;

    const cutOff = await page();
    assert.deepEqual(
      cutOff.errors.map((e) => e.installationId),
      [id],
    );
    assert.match(cutOff.errors[0]?.message ?? '', /partner store \(MongoDB\)/);
    assert.deepEqual([cutOff.deprovisioned, asked.signals, talkdeskCalls()], [[], [], callsBefore], 'nothing sent anywhere');
    assert.equal(proxy.isBlocked, false, 'the store came back while the page went on');
    assert.equal(await h.store.installations.checkedInPass(id, planId), false, 'not recorded as checked');

    const back = await page();
    assert.deepEqual([back.errors, back.deprovisioned], [[], [id]]);
    assert.deepEqual(
      asked.signals.map((s) => (s as { action?: string }).action),
      ['deprovision'],
    );
  });
});
