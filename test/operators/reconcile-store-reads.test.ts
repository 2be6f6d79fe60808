import assert from 'node:assert/strict';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { CommandStartedEvent } from 'mongodb';
import { createActivities } from '../../activities';
import { HttpProvisioner } from '../../src/partner';
import { OUTSTANDING_INDEXED_MARKER } from '../../src/partner/calls-store';
import { COLLECTIONS, connectDatabase, createStore, type Database, type Store } from '../../src/store';
import { TalkdeskClient } from '../../src/talkdesk/client';
import type { PageResult, PlannedPass } from '../../workflows/reconcile-types';
import { workflowIdFor } from '../../workflows/definitions';
import { captureLogger } from '../support/logs';
import { TestPartnerServer } from '../support/partner-server';
import { mongoUri } from '../support/servers';
import { useSystem, type TestSystem } from '../support/system';
import { eventually, finalView, waitForPhase } from '../support/waits';

const SECRET = 'partner-hook-secret-for-store-reads';
const DAY = 24 * 3_600_000;

/** A command that reads or writes documents by a filter: where the filter is, by command name. */
const FILTERS: Record<string, (c: CommandStartedEvent['command']) => unknown[]> = {
  find: (c) => [c.filter ?? {}],
  count: (c) => [c.query ?? {}],
  distinct: (c) => [c.query ?? {}],
  aggregate: () => ['(aggregate)'],
  findAndModify: (c) => [c.query ?? {}],
  update: (c) => ((c.updates ?? []) as { q: unknown }[]).map((u) => u.q),
  delete: (c) => ((c.deletes ?? []) as { q: unknown }[]).map((d) => d.q),
};

/** Exactly `{_id: <string>}`: the one filter the embedded FerretDB pushes down (docs/performance.md). */
const byIdAlone = (filter: unknown): boolean =>
  typeof filter === 'object' &&
  filter !== null &&
  Object.keys(filter).length === 1 &&
  typeof (filter as { _id?: unknown })._id === 'string';

/** `collection command` for each filter that is not `{_id}` alone. */
interface Scan {
  what: string;
  filter: unknown;
}

/**
 * What one reconciliation pass asks the store, counted from the MongoDB driver's command
 * monitoring on a connection of the activities' own (issue 16). On the embedded FerretDB
 * every filter but `{_id}` reads and decodes the whole collection, so a per-installation
 * or per-page command with another filter makes the pass grow with the data twice over.
 */
describe('reconciliation reads the store by _id (FerretDB, command monitoring, dev server, simulator, HTTP partner)', function () {
  this.timeout(180_000);
  let sys: TestSystem;
  const server = new TestPartnerServer([SECRET]);
  before(() => server.start());
  useSystem(
    (s) => (sys = s),
    {
      partner: (store, logger) =>
        new HttpProvisioner({ url: server.url, secrets: [SECRET], timeoutMs: 1_000, pageSize: 50, calls: store.partnerCalls, logger }),
    },
    () => server.stop(),
  );

  let db: Database;
  let store: Store;
  let scans: Scan[] = [];
  const listener = (e: CommandStartedEvent) => {
    const filtersOf = FILTERS[e.commandName];
    const collection = e.command[e.commandName] as unknown;
    if (!filtersOf || typeof collection !== 'string') return;
    for (const filter of filtersOf(e.command)) if (!byIdAlone(filter)) scans.push({ what: `${collection} ${e.commandName}`, filter });
  };
  const ids: string[] = [];
  let ended = '';

  before(async () => {
    const uri = await mongoUri();
    db = await connectDatabase(
      `${uri}${uri.includes('?') ? '&' : uri.endsWith('/') ? '?' : '/?'}monitorCommands=true`,
      sys.store.db.db.databaseName,
    );
    store = createStore(db, sys.keyring);
    db.client.on('commandStarted', listener);
    for (let i = 0; i < 4; i += 1) {
      const created = sys.simulator.createInstallation();
      assert.equal(await sys.simulator.deliver(created.event, { callbackUrl: sys.web.callbackUrl }), 200);
      ids.push(created.installation.id);
    }
    for (const id of ids) await waitForPhase(sys.client, id, 'active');
    // One ended: its credentials destroyed with it (a final phase is still compared with Talkdesk).
    ended = ids[3]!;
    await sys.simulator.deliver(sys.simulator.uninstall(ended), { callbackUrl: sys.web.callbackUrl });
    assert.equal((await finalView(sys.client, ended)).phase, 'uninstalled');
  });
  after(async () => {
    db?.client.off('commandStarted', listener);
    await db?.close();
  });

  const activities = () => {
    const { logger } = captureLogger('reconcile-store-reads');
    const partner = new HttpProvisioner({
      url: server.url,
      secrets: [SECRET],
      timeoutMs: 1_000,
      pageSize: 50,
      calls: store.partnerCalls,
      logger,
    });
    const talkdesk = new TalkdeskClient({ allowedHosts: [`127.0.0.1:${sys.simulator.port}`], timeoutMs: 3_000 });
    return createActivities({ store, talkdesk, logger, partner, temporal: { client: sys.client, taskQueue: sys.taskQueue } });
  };

  /** Every installation due for a Talkdesk read, so that every page visits Talkdesk and the credentials. */
  const allDue = async () => {
    await sys.store.installations.coll.updateMany({}, { $set: { talkdeskCheckedAt: new Date(Date.now() - 2 * DAY) } });
    await sys.store.db.collection(COLLECTIONS.talkdeskChecks).deleteMany({});
  };

  /** One pass as the workflow runs it (housekeeping, plan, pages), returning the filters that were not `{_id}`, per step. */
  async function pass(pageSize: number) {
    const acts = activities();
    const env = new MockActivityEnvironment();
    let beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    const run = async <T>(work: () => Promise<T>): Promise<{ result: T; scans: Scan[]; beats: unknown[] }> => {
      scans = [];
      beats = [];
      const result = await work();
      return { result, scans, beats };
    };
    const stored = await run(() => env.run(acts.dispatchStoredEvents, { limit: 1_000 }));
    const destroyed = await run(() => env.run(acts.destroyRetiredCredentials, { limit: 1_000 }));
    const planId = `plan-${Date.now()}`;
    const plan = await run(
      () =>
        env.run(acts.planReconciliation, {
          planId,
          pageSize,
          activeCheckHours: 24,
          talkdeskCallsPerMinute: 120,
          budgetMinutes: 7,
        }) as Promise<PlannedPass>,
    );
    const pages = await run(async () => {
      const results: PageResult[] = [];
      for (let page = 0; page < plan.result.pages; page += 1) {
        results.push((await env.run(acts.reconcilePlannedPage, { planId, page, startedAt: plan.result.startedAt })) as PageResult);
      }
      return results;
    });
    return { stored, destroyed, plan, pages };
  }

  it('the activities connection is monitored (control: a filter on installationId is seen)', async () => {
    scans = [];
    await store.db.db.collection(COLLECTIONS.credentials).find({ installationId: ids[0]! }).toArray();
    assert.deepEqual(
      scans.map((s) => s.what),
      [`${COLLECTIONS.credentials} find`],
    );
  });

  it('a planned page reads and writes by _id only: no per-installation or per-page scan (partner calls, credentials, inbox)', async () => {
    // An undo the partner did not take, kept for reconciliation: it is delivered by a page.
    await sys.store.partnerCalls.keepOutstanding({
      id: 'undo-kept-for-store-reads',
      installationId: ids[0]!,
      type: 'account.undo_provision',
      body: JSON.stringify({ id: 'undo-kept-for-store-reads', type: 'account.undo_provision', installation_id: ids[0], data: {} }),
      lastError: 'timed out',
    });
    await allDue();
    const { pages } = await pass(2);
    assert.equal(pages.result.length, 2, 'two pages of two');
    assert.equal(
      pages.result.reduce((n, p) => n + (p.talkdeskChecked ?? 0), 0),
      3,
      'the three live installations read at Talkdesk (the ended one has nothing to read it with)',
    );
    assert.deepEqual(
      pages.result.flatMap((p) => p.errors),
      [],
    );
    assert.deepEqual(pages.scans, [], 'every page command filters on _id alone');
    assert.equal(server.hooks('account.undo_provision', ids[0]).length, 1, 'the outstanding undo was delivered');
    assert.equal((await sys.store.partnerCalls.coll.findOne({ _id: 'undo-kept-for-store-reads' }))?.status, 'delivered');
  });

  it('the pass scans whole collections only for its plan, and its whole-inbox and credentials backstops at most once a day', async () => {
    await sys.store.db.collection(COLLECTIONS.storeMarkers).deleteMany({});
    await allDue();
    const first = await pass(200);
    assert.deepEqual(
      first.stored.scans.map((s) => s.what),
      [`${COLLECTIONS.dispatchQueue} find`, `${COLLECTIONS.inbox} find`, `${COLLECTIONS.dispatchQueue} find`],
      'the first pass runs the whole-inbox backstop (the small queue ids first, to skip those queued), then reads the queue',
    );
    assert.deepEqual(
      first.destroyed.scans.map((s) => s.what),
      [`${COLLECTIONS.credentials} find`, `${COLLECTIONS.tokenGrants} delete`, `${COLLECTIONS.tokens} delete`],
      'and the credentials backstop (with its sweeps of token grant notes and expired tokens)',
    );
    const second = await pass(200);
    assert.deepEqual(
      second.stored.scans.map((s) => s.what),
      [`${COLLECTIONS.dispatchQueue} find`],
      'the next pass that day reads only the queue (its backlog, not the inbox)',
    );
    assert.deepEqual(second.destroyed.scans, []);
    assert.deepEqual(
      second.plan.scans.map((s) => s.what).sort(),
      [
        `${COLLECTIONS.installations} find`,
        `${COLLECTIONS.reconcilePlans} delete`,
        `${COLLECTIONS.resumedRuns} find`,
        `${COLLECTIONS.talkdeskChecks} find`,
      ].sort(),
      "the plan: one read of every record, of reconciliation's last reads and of the resumed runs' marks, and the drop of old plans, once per pass",
    );
    assert.deepEqual(second.pages.scans, []);
    await sys.store.db
      .collection<{ _id: string; at: Date }>(COLLECTIONS.storeMarkers)
      .updateMany({}, { $set: { at: new Date(Date.now() - DAY - 60_000) } });
    const nextDay = await pass(200);
    assert.equal(nextDay.stored.scans.filter((s) => s.what === `${COLLECTIONS.inbox} find`).length, 1, 'a day later it runs again');
    // The workflow runs these with a heartbeat timeout (a lost attempt retried within a minute): each beats as it starts.
    for (const step of [first.stored, first.destroyed, first.plan, second.stored, second.destroyed, second.plan])
      assert.ok(step.beats.length >= 1, 'each housekeeping step heartbeats');
    assert.deepEqual(
      [first.stored.beats[0], first.destroyed.beats[0], first.plan.beats[0]],
      ['inbox hand-over', 'credentials backstop', 'planning the pass'],
    );
  });

  it('upgrade: an outstanding call the previous version stored (no index entry) is indexed once at start and delivered', async () => {
    const id = 'undo-kept-by-the-previous-version';
    // As the previous version kept it: the call alone.
    await sys.store.partnerCalls.coll.insertOne({
      _id: id,
      installationId: ids[1]!,
      type: 'account.undo_provision',
      status: 'outstanding',
      body: JSON.stringify({ id, type: 'account.undo_provision', installation_id: ids[1], data: {} }),
      attempts: 1,
      createdAt: new Date(),
      updatedAt: new Date(),
    });
    await sys.store.db.collection(COLLECTIONS.storeMarkers).deleteMany({});
    await store.ensureIndexes(); // what every process does at start
    assert.ok(await store.db.collection(COLLECTIONS.storeMarkers).findOne({ _id: OUTSTANDING_INDEXED_MARKER as never }), 'remembered');
    scans = [];
    await store.partnerCalls.ensureIndexes();
    assert.deepEqual(
      scans.filter((s) => s.what === `${COLLECTIONS.partnerCalls} find`),
      [],
      'indexed once: a later start does not scan partner_calls again',
    );
    await allDue();
    const { pages } = await pass(200);
    assert.deepEqual(pages.scans, []);
    await eventually('the previous version’s undo to be delivered', async () =>
      (await sys.store.partnerCalls.coll.findOne({ _id: id }))?.status === 'delivered' ? true : undefined,
    );
    assert.equal(server.hooks('account.undo_provision', ids[1]).length, 1);
  });
  it('the plan lists running workflows once for the visits without a Talkdesk read; a lost one is still resumed', async () => {
    const lost = ids[2]!;
    await sys.client.workflow.getHandle(workflowIdFor(lost)).terminate('lost in a test');
    await eventually('visibility to show it ended', async () => {
      for await (const wf of sys.client.workflow.list({ query: `WorkflowId = '${workflowIdFor(lost)}' AND ExecutionStatus = 'Running'` }))
        return wf ? undefined : true;
      return true;
    });
    // Nobody due at Talkdesk: every live installation is a visit of its workflow only.
    await sys.store.installations.coll.updateMany({}, { $set: { talkdeskCheckedAt: new Date() } });
    const { plan, pages } = await pass(200);
    const entries = (await sys.store.reconcilePlans.page(plan.result.id, 0)) ?? [];
    const running = Object.fromEntries(entries.map((e) => [e.id, e.running]));
    assert.deepEqual(
      [running[ids[0]!], running[ids[1]!], running[lost], running[ended]],
      [true, true, false, undefined],
      'listed when planned (an ended installation needs no workflow)',
    );
    assert.deepEqual(
      pages.result.flatMap((p) => p.resumed),
      [lost],
    );
    // Resuming reads the lost installation's stored events (for a rotation or trial it had not handled): the
    // one read by installation, and only for the installation resumed.
    assert.deepEqual(
      pages.scans.map((x) => [x.what, x.filter]),
      [[`${COLLECTIONS.inbox} find`, { installationId: lost, type: { $ne: 'user.logout' } }]],
    );
    await waitForPhase(sys.client, lost, 'active');

    // A plan an earlier version wrote (no `running`): its page asks visibility itself, and finds them running.
    await sys.store.reconcilePlans.write('plan-of-an-earlier-version', [entries.map(({ id, phase }) => ({ id, phase }))], new Date());
    const page = (await new MockActivityEnvironment().run(activities().reconcilePlannedPage, {
      planId: 'plan-of-an-earlier-version',
      page: 0,
      startedAt: Date.now(),
    })) as PageResult;
    assert.deepEqual([page.scanned, page.resumed, page.errors], [entries.length, [], []]);
    // A page gone (dropped by a later pass's plan) fails for good, said: not read as an empty page checked.
    await assert.rejects(
      new MockActivityEnvironment().run(activities().reconcilePlannedPage, { planId: 'plan-gone', page: 0, startedAt: Date.now() }),
      (err: unknown) =>
        (err as { type?: string; nonRetryable?: boolean }).type === 'PlanPageGone' &&
        (err as { nonRetryable?: boolean }).nonRetryable === true,
    );
  });
});
