import { CancelledFailure, Context, heartbeat } from '@temporalio/activity';
import type { TalkdeskUser } from '../src/talkdesk/schemas';
import type {
  InstallationRef,
  ProvisionResult,
  TalkdeskCallRef,
  TrialInput,
  UpdateInput,
  UpdateResult,
} from '../workflows/activity-types';
import type { ActivityDeps } from './deps';
import { withToken } from './talkdesk-calls';

const toFacts = (u: TalkdeskUser) => ({ id: u.id, email: u.email ?? undefined, name: u.name ?? undefined });

/** Stops before writing when the workflow cancelled this attempt (an uninstall arrived). */
function stopIfCancelled(): void {
  const signal = Context.current().cancellationSignal;
  if (signal.aborted) throw new CancelledFailure('cancelled before writing');
}

export function provisioningActivities(deps: ActivityDeps) {
  const { store, talkdesk, logger } = deps;
  return {
    /**
     * GET /account and every page of the licensed users, then upserts the partner
     * account and its user mappings. Keyed by Talkdesk ids, so a retry after a crash
     * never makes a second account or user.
     */
    async provisionAccount(input: TalkdeskCallRef & { accountName: string }): Promise<ProvisionResult> {
      const account = await withToken(deps, input, (token) => talkdesk.getAccount(input.rootUrl, token));
      heartbeat('account read');
      const users = await withToken(deps, input, (token) =>
        talkdesk.listLicensedUsers(input.rootUrl, input.appId, input.installationId, token),
      );
      heartbeat(`${users.length} licensed users read`);
      stopIfCancelled();
      const { settingsRestored } = await store.accounts.upsertAccount({
        accountId: account.id,
        installationId: input.installationId,
        appId: input.appId,
        name: account.name || input.accountName,
        companyName: account.company_name ?? undefined,
        timezone: account.timezone ?? undefined,
      });
      await store.accounts.upsertUsers(account.id, input.installationId, users.map(toFacts));
      logger.info(
        { installationId: input.installationId, accountId: account.id, users: users.length, settingsRestored },
        'account provisioned',
      );
      return { accountId: account.id, accountName: account.name, licensedUsers: users.length, settingsRestored };
    },

    /** Removes what an unfinished install provisioned; settings stay for a later reinstall. */
    async undoProvisioning(input: InstallationRef & { accountId?: string }): Promise<void> {
      const account = input.accountId
        ? await store.accounts.getAccount(input.accountId)
        : await store.accounts.findByInstallation(input.installationId);
      if (account && account.installationId === input.installationId) {
        await store.accounts.removeProvisioning(account._id, input.installationId);
      }
      await store.credentials.dropTokens(input.installationId);
      logger.info({ installationId: input.installationId }, 'provisioning undone');
    },

    /** Users added are fetched and mapped, users removed deactivated, the subscription recorded. */
    async applyUpdate(input: UpdateInput): Promise<UpdateResult> {
      const before = await store.accounts.getAccount(input.accountId);
      const existing = new Set((await store.accounts.listUsers(input.accountId)).filter((u) => u.active).map((u) => u.talkdeskUserId));
      const added: TalkdeskUser[] = [];
      for (const id of input.usersAdding) {
        added.push(await withToken(deps, input, (token) => talkdesk.getUser(input.rootUrl, id, token)));
        heartbeat(`user ${added.length}/${input.usersAdding.length}`);
      }
      stopIfCancelled();
      await store.accounts.upsertUsers(input.accountId, input.installationId, added.map(toFacts));
      const removing = input.usersRemoving.filter((id) => existing.has(id));
      if (removing.length) await store.accounts.deactivateUsers(input.accountId, removing);
      if (input.subscription) await store.accounts.recordSubscription(input.accountId, input.subscription as never);
      logger.info({ installationId: input.installationId, added: added.length, removed: removing.length }, 'update applied');
      return {
        usersAdded: added.map((u) => u.id).filter((id) => !existing.has(id)),
        usersDeactivated: removing,
        previousSubscription: before?.subscription,
      };
    },

    /** Puts the account back as it was before an update that was never approved. */
    async revertUpdate(input: InstallationRef & { accountId: string; applied: UpdateResult }): Promise<void> {
      if (input.applied.usersAdded.length) await store.accounts.deactivateUsers(input.accountId, input.applied.usersAdded);
      if (input.applied.usersDeactivated.length) {
        await store.accounts.users.updateMany(
          { accountId: input.accountId, talkdeskUserId: { $in: input.applied.usersDeactivated } },
          { $set: { active: true, updatedAt: new Date() } },
        );
      }
      await store.accounts.recordSubscription(input.accountId, (input.applied.previousSubscription ?? {}) as never);
      logger.info({ installationId: input.installationId }, 'update reverted');
    },

    /** Uninstall: account disabled, user mappings deactivated, cached tokens dropped, settings kept. */
    async deprovisionAccount(input: InstallationRef & { accountId?: string }): Promise<void> {
      const account = input.accountId
        ? await store.accounts.getAccount(input.accountId)
        : await store.accounts.findByInstallation(input.installationId);
      if (account && account.installationId === input.installationId) {
        await store.accounts.disableAccount(account._id);
        await store.accounts.deactivateUsers(account._id);
      }
      await store.credentials.dropTokens(input.installationId);
      logger.info({ installationId: input.installationId }, 'account deprovisioned');
    },

    async recordTrial(input: TrialInput): Promise<void> {
      const account = input.accountId
        ? await store.accounts.getAccount(input.accountId)
        : await store.accounts.findByInstallation(input.installationId);
      if (account) await store.accounts.recordTrial(account._id, input.trial);
      logger.info({ installationId: input.installationId, trial: input.trial }, 'trial recorded');
    },
  };
}
