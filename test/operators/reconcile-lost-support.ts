import assert from 'node:assert/strict';
import { MockActivityEnvironment } from '@temporalio/testing';
import { reconciliationActivities } from '../../activities/reconciliation';
import { createLogger } from '../../src/logging/logger';
import type { PartnerProvisioner } from '../../src/partner/provisioner';
import { TalkdeskClient } from '../../src/talkdesk/client';
import type { PageResult } from '../../workflows/reconcile-types';
import { workflowIdFor, type InstallationPhase, type InstallationView } from '../../workflows/definitions';
import type { ActivityHarness } from '../support/activity-harness';
import { recordingTemporal } from '../support/recording-temporal';

/** What the tests of reconciliation's hand-over of a lost run's events share (reconcile-lost-*.test.ts). */
export function lostEventsHelpers(h: () => ActivityHarness) {
  const at = (t0: number, seconds: number) => new Date(t0 + seconds * 1_000).toISOString();

  async function reconcile(
    installationId: string,
    running: boolean,
    view?: InstallationView,
    startedMeanwhile = false,
    partner?: PartnerProvisioner,
  ) {
    const { temporal, asked } = recordingTemporal(running, view, undefined, startedMeanwhile);
    const talkdesk = new TalkdeskClient({ allowedHosts: [`127.0.0.1:${h().simulator.port}`], timeoutMs: 5_000 });
    const acts = reconciliationActivities({ store: h().store, talkdesk, logger: createLogger({ level: 'silent' }), temporal, partner });
    const result = (await new MockActivityEnvironment().run(acts.reconcileInstallations, {
      installationIds: [installationId],
    })) as PageResult;
    assert.deepEqual(result.errors, []);
    return {
      result,
      handedOver: asked.handedOver.map((e) => [e.type, e.eventId]),
      started: asked.started,
      queries: asked.queries,
      startInputs: asked.startInputs,
    };
  }

  /** An installation recorded in `phase`, having applied events up to `lastAt` (seconds), `handled` among them. */
  async function recorded(phase: InstallationPhase, t0: number) {
    const { installation, event } = h().simulator.createInstallation({}, { createdAt: at(t0, 0) });
    const installed = await h().storeEvent(event);
    const creds = await h().run(h().acts.importCredentials, { installationId: installation.id, eventId: event.id, activate: true });
    const id = installation.id;
    await h().run(h().acts.recordInstallation, {
      installationId: id,
      workflowId: workflowIdFor(id),
      appId: h().simulator.appId,
      links: installed.links,
      phase,
      activeClientId: creds.clientId,
    });
    const applied = (lastAt: number, handled: string[]) =>
      h().store.installations.coll.updateOne({ _id: id }, { $set: { lastEventAt: at(t0, lastAt), handledEventIds: handled } });
    return { id, install: event, applied };
  }

  /** A running workflow's state that shows the given events in its history. */
  const viewOf = (id: string, phase: InstallationPhase, eventIds: string[]): InstallationView => ({
    installationId: id,
    workflowId: workflowIdFor(id),
    phase,
    history: eventIds.map((eventId) => ({ phase: 'installing', eventId, startedAt: new Date().toISOString() })),
    attempts: 0,
    pendingEvents: [],
    appliedEvents: eventIds.length,
    ignoredEvents: [],
    retiringCredentials: [],
    operatorActions: [],
  });

  return { at, reconcile, recorded, viewOf };
}
