import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { retryNowUpdate } from '../../workflows/definitions';
import { PATCHES_DECIDED_AT_START_1_TO_18 } from '../../workflows/installation/patches';
import { ActivityStubs, clientIdFor, deferred, refused, useInstallationUnderTest } from './harness';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const json = (p: temporal.api.common.v1.IPayload | null | undefined): unknown =>
  p?.data ? JSON.parse(Buffer.from(p.data).toString('utf8')) : undefined;

/** Activities the server scheduled, in order. */
const scheduled = (events: HistoryEvent[]) => events.flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);

/** Local activities the worker ran, from their markers: type and the summary the UI shows. */
const localActivities = (events: HistoryEvent[]) =>
  events.flatMap((e) => {
    const m = e.markerRecordedEventAttributes;
    if (m?.markerName !== 'core_local_activity') return [];
    const data = json(m.details?.data?.payloads?.[0]) as { activity_type?: string };
    return [{ type: data.activity_type, summary: json(e.userMetadata?.summary) }];
  });

/** The store-only steps run as local activities (patch `store-steps-local`): no server round trip of their own. */
describe('installation workflow: store-only steps as local activities', function () {
  this.timeout(60_000);
  const { start } = useInstallationUnderTest();

  it('an install schedules only its Talkdesk and partner steps on the server; recording and importing are local', async () => {
    const t = await start();
    await t.send(t.event('app.installed'));
    await t.settled('active');
    const events = (await t.handle.fetchHistory()).events ?? [];
    assert.deepEqual(scheduled(events), ['provisionAccount', 'setInstallationState']);
    assert.deepEqual(localActivities(events), [
      { type: 'loadInstallation', summary: 'load the stored installation' },
      { type: 'recordInstallation', summary: 'record the phase in the partner store' },
      { type: 'importCredentials', summary: 'import the credentials from the event' },
      { type: 'recordInstallation', summary: 'record the phase in the partner store' },
    ]);
    // Every patch decided at the run's start (patches-decided-at-start and its later generations): the one marker of the
    // first fourteen, no STORE_STEPS_LOCAL of its own (nor a marker per generation: two history events each).
    assert.deepEqual(await t.patches(), [PATCHES_DECIDED_AT_START_1_TO_18], 'the install took the patched path');
    // The activities ran all the same (the stubs record each call), and no separate token step.
    assert.deepEqual(t.stubs.names(), [
      'loadInstallation',
      'recordInstallation',
      'importCredentials',
      'provisionAccount',
      'setInstallationState',
      'recordInstallation',
    ]);
  });

  it('a rotation proves and acknowledges the new set on the server; importing and switching to it are local', async () => {
    const t = await start();
    await t.send(t.event('app.installed'));
    await t.settled('active');
    const before = ((await t.handle.fetchHistory()).events ?? []).length;
    const rotation = t.event('app.credentials_rotated', { facts: { compromised: false } });
    await t.send(rotation);
    await t.settled('active', (v) => v.activeClientId === clientIdFor(rotation.eventId));
    const events = ((await t.handle.fetchHistory()).events ?? []).slice(before);
    assert.deepEqual(scheduled(events), ['obtainToken', 'acknowledgeCredentials']);
    assert.deepEqual(
      localActivities(events).map((l) => l.type),
      ['importCredentials', 'switchCredentials', 'recordInstallation'],
    );
  });

  it('a failed install destroys the credentials locally, after the undo the server ran', async () => {
    const t = await start(
      new ActivityStubs().on('provisionAccount', async () => {
        throw refused('invalid_client');
      }),
    );
    await t.send(t.event('app.installed'));
    await t.settled('rejected');
    const events = (await t.handle.fetchHistory()).events ?? [];
    assert.deepEqual(scheduled(events), ['provisionAccount', 'setInstallationState', 'undoProvisioning']);
    assert.deepEqual(
      localActivities(events).map((l) => l.type),
      ['loadInstallation', 'recordInstallation', 'importCredentials', 'destroyCredentials', 'recordInstallation'],
    );
    assert.match((await t.state()).lastError ?? '', /invalid_client/);
  });

  it('a store step that keeps failing backs off under the workflow (error shown, retryNow honoured), then succeeds', async () => {
    let failures = 0;
    const stubs = new ActivityStubs().on('importCredentials', async (i) => {
      if (failures++ < 1) throw ApplicationFailure.retryable('MongoDB operation failed (MongoServerSelectionError)', 'StoreUnavailable');
      return { clientId: `client-${String(i.eventId)}`, keyId: 'key-1', keyAlgorithm: 'ES256' };
    });
    // The first backoff is an hour: only retryNow brings the second attempt within the test.
    const t = await start(stubs, { retryInitialMs: 3_600_000 });
    await t.send(t.event('app.installed'));
    const retrying = await t.until('the import to be in its backoff', (v) => v.lastError !== undefined);
    assert.equal(retrying.currentStep, 'import the credentials from the event');
    assert.match(retrying.lastError ?? '', /StoreUnavailable|MongoDB operation failed/);
    await t.handle.executeUpdate(retryNowUpdate, { args: [{ reason: 'the store is back' }] });
    const v = await t.settled('active');
    assert.equal(v.lastError, undefined);
    assert.equal(t.stubs.of('importCredentials').length, 2);
    const events = (await t.handle.fetchHistory()).events ?? [];
    assert.ok(
      events.some((e) => json(e.userMetadata?.summary) === 'backoff before retrying: import the credentials from the event'),
      'the retry waited on a workflow timer',
    );
    // The first attempt was local; the retry ran on the server (patch `store-step-bounded-local`).
    assert.deepEqual(
      localActivities(events).map((l) => l.type),
      ['loadInstallation', 'recordInstallation', 'importCredentials', 'recordInstallation'],
    );
    assert.deepEqual(scheduled(events), ['importCredentials', 'provisionAccount', 'setInstallationState']);
  });

  it('a store step that hangs holds the workflow task no longer than its local bound; its retry runs on the server', async () => {
    // A MongoDB operation that never answers and ignores cancellation, as a socket to a stalled FerretDB does.
    const hung = deferred<null>();
    let calls = 0;
    const stubs = new ActivityStubs().on('loadInstallation', () => (calls++ === 0 ? hung.promise : Promise.resolve(null)));
    // activityTimeoutMs above the workflow task's 10 s: before the bound, the attempt held the task until it timed out.
    const t = await start(stubs, { activityTimeoutMs: 30_000 });
    try {
      await t.send(t.event('app.installed'));
      // Long enough for the unbounded attempt (30 s) too, so that the assertions below say what went wrong.
      await t.until('phase active', (v) => v.phase === 'active' && !v.currentStep, 45_000);
    } finally {
      hung.resolve(null);
    }
    const events = (await t.handle.fetchHistory()).events ?? [];
    const load = events.find((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity');
    assert.match(
      JSON.stringify(load?.markerRecordedEventAttributes?.failure ?? {}),
      /timed out|TIMEOUT/i,
      'the local attempt ended by its bound',
    );
    // No workflow task was kept open by heartbeats (a completion with no command that asks for a new task) or lost.
    assert.equal(events.filter((e) => e.workflowTaskTimedOutEventAttributes).length, 0, 'no workflow task timed out');
    const heartbeats = events.filter(
      (e, i) => e.workflowTaskCompletedEventAttributes && events[i + 1]?.workflowTaskScheduledEventAttributes,
    );
    assert.equal(heartbeats.length, 0, 'no workflow task heartbeat');
    assert.deepEqual(scheduled(events), ['loadInstallation', 'provisionAccount', 'setInstallationState']);
    assert.equal(stubs.of('loadInstallation').length, 2);
  });
});
