import assert from 'node:assert/strict';
import { COLLECTIONS } from '../../src/store/db';
import { workflowIdFor } from '../../workflows/definitions';
import type { ReconcileInput } from '../../workflows/reconcile';
import type { ReconcileReport } from '../../workflows/reconcile-types';
import type { TestSystem } from '../support/system';
import { eventually, finalView, queryState, waitForPhase } from '../support/waits';
import { installActive, runReconcile, stuckInstalling, useSystemPerTest } from './reconcile-support';

const HOUR = 3_600_000;

describe('reconciliation reads Talkdesk on a window and within a budget (dev server, FerretDB, simulator)', function () {
  this.timeout(180_000);
  let sys: TestSystem;
  useSystemPerTest((s) => (sys = s));

  const reconcile = (input: ReconcileInput = {}): Promise<ReconcileReport> => runReconcile(sys, input);

  /** Talkdesk reads of the installation (GET /apps/:app/installations/:id) so far. */
  const gets = (id: string) => sys.simulator.calls.filter((c) => c.route === 'installation' && c.installationId === id).length;
  const checkedAt = async (id: string) => (await sys.store.installations.lastTalkdeskCheck(id))?.getTime() ?? 0;
  /** Both records of a last read (the workflow's, on the installation, and reconciliation's own) set back. */
  const lastReadAgo = async (id: string, ms: number) => {
    const at = new Date(Date.now() - ms);
    await sys.store.installations.coll.updateOne({ _id: id }, { $set: { talkdeskCheckedAt: at } });
    await sys.store.db.collection(COLLECTIONS.talkdeskChecks).updateOne({ _id: id as never }, { $set: { at } });
  };

  const install = async () => (await installActive(sys)).installation.id;
  /** An install Talkdesk does not let approve (and later ones, until clearFaults): its id. */
  const stuck = async () => (await stuckInstalling(sys)).installation.id;

  it('reads an install in progress every pass, an active one only once its last read is older than the window', async () => {
    const fresh = await install(); // its approval was Talkdesk's answer: the window starts there
    const due = await install();
    const inProgress = await stuck();
    assert.ok((await checkedAt(fresh)) > Date.now() - HOUR, 'the approval starts the window');
    await lastReadAgo(due, 25 * HOUR);
    await lastReadAgo(inProgress, 1_000);
    const [freshBefore, dueBefore] = [gets(fresh), gets(due)];

    const passStart = Date.now();
    const first = await reconcile();
    assert.equal(first.scanned, 3);
    assert.deepEqual([first.talkdeskChecked, first.talkdeskDeferred], [2, 0]);
    assert.equal(gets(fresh), freshBefore, 'an active installation read within the window is not read again');
    assert.equal(gets(due), dueBefore + 1);
    assert.ok((await checkedAt(due)) >= passStart, 'the read is recorded');
    assert.ok((await checkedAt(inProgress)) >= passStart, 'the install in progress is read');

    const secondStart = Date.now();
    const second = await reconcile();
    assert.deepEqual([second.talkdeskChecked, second.talkdeskDeferred], [1, 0]);
    assert.deepEqual([gets(fresh), gets(due)], [freshBefore, dueBefore + 1], 'both active ones wait for their window');
    // Recorded by this pass (the stuck approval never concludes, so its workflow records no read of its own).
    assert.ok((await checkedAt(inProgress)) >= secondStart, 'the install in progress is read again');
  });

  it('an update its workflow approved starts the window again: the next pass does not read it at Talkdesk', async () => {
    const id = await install();
    await lastReadAgo(id, 25 * HOUR);
    const updateStart = Date.now();
    await sys.simulator.deliver(sys.simulator.updateUsers(id, { add: 1 }), { callbackUrl: sys.web.callbackUrl });
    await eventually('the update to be approved and its phase recorded', async () => {
      const v = await queryState(sys.client, id);
      const rec = await sys.store.installations.get(id);
      return v.phase === 'active' && v.history.at(-1)?.phase === 'updating' && v.history.at(-1)?.endedAt && rec?.phase === 'active'
        ? v
        : undefined;
    });
    assert.equal(sys.simulator.getInstallation(id)?.state, 'completed');
    assert.ok((await checkedAt(id)) >= updateStart, "the approval's answer is a read of Talkdesk");
    const before = gets(id);
    const report = await reconcile();
    assert.deepEqual([report.scanned, report.talkdeskChecked, report.talkdeskDeferred], [1, 0, 0]);
    assert.equal(gets(id), before, 'not read again within the window');
  });

  it('caps the Talkdesk reads at the budget, in progress first, and defers the rest to the next pass, least recently read first', async () => {
    const actives = [await install(), await install(), await install()];
    const inProgress = await stuck(); // last: the fault holds every approval
    // Read 25, 26 and 27 hours ago: all due, the last one least recently.
    for (const [i, id] of actives.entries()) await lastReadAgo(id, (25 + i) * HOUR);
    const before = actives.map(gets);
    // 2 reads a minute over half of a 2-minute interval: 2 reads a pass.
    const budget = { talkdeskCallsPerMinute: 2, intervalMinutes: 2 };
    const readSince = () => actives.map((id, i) => gets(id) - before[i]!);

    const passStart = Date.now();
    const first = await reconcile(budget);
    assert.deepEqual([first.scanned, first.talkdeskChecked, first.talkdeskDeferred], [4, 2, 2]);
    assert.ok((await checkedAt(inProgress)) >= passStart, 'the install in progress goes first');
    assert.deepEqual(readSince(), [0, 0, 1], 'then the least recently read');

    const second = await reconcile(budget);
    assert.deepEqual([second.talkdeskChecked, second.talkdeskDeferred], [2, 1]);
    assert.deepEqual(readSince(), [0, 1, 1]);

    const third = await reconcile(budget);
    assert.deepEqual([third.talkdeskChecked, third.talkdeskDeferred], [2, 0]);
    assert.deepEqual(readSince(), [1, 1, 1], 'every due installation read within three passes');
  });

  it('still finds and repairs drift when the installation is due, and still resumes a lost workflow when it is not', async () => {
    const due = await install();
    const notDue = await install();
    const lost = await install();
    await lastReadAgo(due, 25 * HOUR);
    sys.simulator.setInstallationState(due, 'revoked');
    sys.simulator.setInstallationState(notDue, 'revoked');
    await sys.client.workflow.getHandle(workflowIdFor(lost)).terminate('lost in a test');
    const lostGets = gets(lost);

    const report = await reconcile();
    assert.deepEqual(report.deprovisioned, [due]);
    assert.deepEqual(report.resumed, [lost]);
    assert.equal(gets(lost), lostGets, 'a lost workflow is resumed without a Talkdesk read');
    assert.equal((await finalView(sys.client, due)).phase, 'uninstalled');
    assert.equal((await queryState(sys.client, notDue)).phase, 'active', 'not due: its drift waits for its window');
    await waitForPhase(sys.client, lost, 'active');

    await lastReadAgo(notDue, 25 * HOUR);
    // Ended, its credentials destroyed: due, but nothing to read Talkdesk with. It must not stay due.
    await lastReadAgo(due, 25 * HOUR);
    const laterStart = Date.now();
    const later = await reconcile();
    assert.deepEqual([later.deprovisioned, later.talkdeskChecked], [[notDue], 1]);
    assert.ok((await checkedAt(due)) >= laterStart, 'an installation with nothing to read Talkdesk with counts as checked');
    assert.equal((await finalView(sys.client, notDue)).phase, 'uninstalled');
    // Found with nothing to read with, it takes no share of the budget again while it stays ended: only `notDue`,
    // which that pass read, is planned (its destroy after the deprovision leaves it nothing either from then on).
    await lastReadAgo(due, 25 * HOUR);
    await lastReadAgo(notDue, 25 * HOUR);
    const last = await reconcile();
    assert.deepEqual([last.talkdeskPlanned, last.talkdeskChecked], [1, 0]);
    await lastReadAgo(due, 25 * HOUR);
    await lastReadAgo(notDue, 25 * HOUR);
    const after = await reconcile();
    assert.equal(after.talkdeskPlanned, 0, 'neither ended installation is planned a read any more, though both are due by their time');
    assert.equal(after.scanned, 3, 'both still visited');
  });
});
