import { callKey } from '../src/partner/keys';
import type { InstallationRef, RecordPhaseInput, StoredInstallation } from '../workflows/activity-types';
import type { ActivityDeps } from './deps';
import { needsWorkflow } from './reconcile-plan';

export function installationRecordActivities(deps: ActivityDeps) {
  const { store } = deps;
  /**
   * The sets retiring when the run was lost (the new run destroys each when its grace ends, as the lost one would), and
   * the active one: the record names the set of its last phase record, and an uninstall that adopted a rotation's set
   * since (the old one destroyed) recorded nothing; a resumed run acknowledging with the destroyed set failed for good.
   */
  const liveSets = async (installationId: string, named: string | undefined) => {
    const sets = await store.credentials.list(installationId);
    const retiring = sets.flatMap((c) =>
      c.status === 'retiring' && c.retireAt ? [{ clientId: c.clientId, retireAt: c.retireAt.toISOString() }] : [],
    );
    // Only a named set no longer active is replaced (none named: a phase before its import, which imports it again).
    const stale = named !== undefined && !sets.some((c) => c.clientId === named && c.status === 'active');
    return { retiring, activeClientId: stale ? (sets.find((c) => c.status === 'active')?.clientId ?? named) : named };
  };
  // Not an ended trial (a later trial event's record given up may have left it there: its fields would join the later
  // trial's), nor a disabled account's (an earlier life's, before a same-id reinstall provisioned the account again).
  const trialOf = async (accountId: string | undefined, installationId: string) => {
    const account = accountId ? await store.accounts.getAccount(accountId) : null;
    const own = account?.installationId === installationId && account.status === 'provisioned';
    return own && account.trial && account.trial.endedAt === undefined ? { trial: account.trial } : {};
  };
  return {
    /** Mirrors the workflow's phase into MongoDB, where reconciliation reads it. */
    async recordInstallation(input: RecordPhaseInput): Promise<void> {
      // A new install begins (a reinstall too): an approval of an earlier one does not count for it.
      if (input.phase === 'installing') await store.installations.clearInstallApproval(input.installationId);
      await store.installations.record(
        input.installationId,
        {
          workflowId: input.workflowId,
          appId: input.appId,
          accountId: input.accountId,
          accountName: input.accountName,
          phase: input.phase,
          activeClientId: input.activeClientId,
          lastEventAt: input.lastEventAt,
          installEventAt: input.installEventAt,
          updateEventAt: input.updateEventAt,
          ...(input.subscriptionFrom !== undefined ? { subscriptionFrom: input.subscriptionFrom } : {}),
          uninstallEventAt: input.uninstallEventAt,
          trialEventAt: input.trialEventAt,
          rotationEventAt: input.rotationEventAt,
          handledEventIds: input.handledEventIds,
          phaseEventId: input.phaseEventId,
          links: input.links,
          ...(input.phase === 'active' ? { approvedAt: new Date() } : {}),
        },
        // The workflow holds no active set (destroyed at the end, a reinstall not imported yet): the record must not
        // name the destroyed one, which reconciliation would read Talkdesk with, and a resumed run restore.
        // Nor the event of a phase that ended.
        ['activeClientId', 'phaseEventId'],
      );
      // An install just ended active (its event the last handled): its provision can no longer be retried, so the
      // licensed users kept for a retry go (by `_id`; for any other phase's event there is nothing under that key).
      const last = input.handledEventIds?.at(-1);
      if (input.phase === 'active' && last)
        await store.licensedUsersProgress.clear(callKey(input.installationId, last, 'account.provision'));
    },

    async loadInstallation(input: InstallationRef & { byReconciliation?: boolean }): Promise<StoredInstallation | null> {
      const rec = await store.installations.get(input.installationId);
      if (!rec) return null;
      // Loaded by a new run in a live phase: the workflow was lost (a run continued as new does not load it). Not when
      // reconciliation started it: it hands over what the lost run left itself.
      if (needsWorkflow(rec.phase) && !input.byReconciliation)
        await store.installations.markResumedRun(input.installationId, new Date(), rec);
      return {
        phase: rec.phase,
        lastEventAt: rec.lastEventAt,
        installEventAt: rec.installEventAt,
        updateEventAt: rec.updateEventAt,
        ...(rec.subscriptionFrom !== undefined ? { subscriptionFrom: rec.subscriptionFrom } : {}),
        uninstallEventAt: rec.uninstallEventAt,
        trialEventAt: rec.trialEventAt,
        rotationEventAt: rec.rotationEventAt,
        handledEventIds: rec.handledEventIds,
        phaseEventId: rec.phaseEventId,
        appId: rec.appId || undefined,
        accountId: rec.accountId,
        accountName: rec.accountName,
        activeClientId: rec.activeClientId,
        links: rec.links,
        ...(needsWorkflow(rec.phase) ? await liveSets(input.installationId, rec.activeClientId) : {}),
        // Its trial, so that the resumed run's view and next trial record start from it, as the lost run's did.
        ...(needsWorkflow(rec.phase) ? await trialOf(rec.accountId, input.installationId) : {}),
      };
    },
  };
}
