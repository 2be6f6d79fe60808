import type { Store } from '../store';
import { PartnerRefusedError } from './errors';
import {
  throwIfCancelled,
  type AccountRef,
  type CallContext,
  type PartnerProvisioner,
  type ProvisionOutcome,
  type ProvisionRequest,
  type RevertRequest,
  type TrialRequest,
  type UpdateRequest,
} from './provisioner';

/** The call's event `created_at`, when it is a time. */
export const eventAtOf = (ctx: Pick<CallContext, 'occurredAt'>) =>
  Number.isNaN(Date.parse(ctx.occurredAt)) ? undefined : new Date(ctx.occurredAt);
/** When the event whose users are written reached us, and its `created_at`: a sign-in weighs a removal against both. */
const factsOf = (ctx: CallContext) => ({ at: ctx.receivedAt ? new Date(ctx.receivedAt) : undefined, eventAt: eventAtOf(ctx) });

/**
 * The built-in partner product: the account and its user mappings, settings kept
 * across reinstalls, and starter content (a sample dashboard, a getting-started
 * checklist) created at install, all in MongoDB. Idempotent by construction: every
 * write is keyed by Talkdesk ids, so the call key is not needed.
 */
export class MongoProvisioner implements PartnerProvisioner {
  readonly kind = 'mongodb';
  readonly keepsServiceRecords = true;
  private readonly withStarterContent: boolean;
  /** `starterContent: false`: the service's own records only (beside another provisioner). */
  constructor(
    private readonly store: Pick<Store, 'accounts' | 'starterContent'>,
    opts: { starterContent?: boolean } = {},
  ) {
    this.withStarterContent = opts.starterContent ?? true;
  }

  async provision(req: ProvisionRequest, ctx: CallContext): Promise<ProvisionOutcome> {
    throwIfCancelled(ctx);
    const eventAt = factsOf(ctx).eventAt;
    // A moment's window remains between upsertAccount's read of the account and its write.
    const { settingsRestored, newerHolds } = await this.store.accounts.upsertAccount({
      ...req.account,
      createdBy: req.createdBy,
      provisionKey: ctx.key,
      ...(eventAt ? { eventAt } : {}),
    });
    if (newerHolds) throw new PartnerRefusedError(`account ${req.account.accountId} is provisioned by a newer installation of it`);
    throwIfCancelled(ctx);
    await this.store.accounts.upsertUsers(req.account.accountId, req.account.installationId, req.users, undefined, factsOf(ctx));
    ctx.progress?.(`${req.users.length} users mapped`);
    throwIfCancelled(ctx);
    if (this.withStarterContent) await this.store.starterContent.ensure(req.account.accountId, req.account.installationId, ctx.key);
    return { settingsRestored };
  }

  async update(req: UpdateRequest, ctx: CallContext): Promise<void> {
    throwIfCancelled(ctx);
    if (!(await this.isCurrent(req))) return;
    await this.store.accounts.upsertUsers(req.accountId, req.installationId, req.usersAdded, undefined, factsOf(ctx));
    if (req.usersRemoved.length) await this.store.accounts.deactivateUsers(req.accountId, req.usersRemoved);
    if (req.subscription) await this.store.accounts.recordSubscription(req.accountId, req.subscription as never);
  }

  async revertUpdate(req: RevertRequest): Promise<void> {
    // A late revert of an earlier installation (retried past its uninstall) must not touch a reinstall's account.
    if (!(await this.isCurrent(req))) return;
    if (req.usersAdded.length) await this.store.accounts.deactivateUsers(req.accountId, req.usersAdded);
    await this.store.accounts.reactivateUsers(req.accountId, req.usersDeactivated);
    await this.store.accounts.recordSubscription(req.accountId, req.previousSubscription as never);
  }

  /** Removes what this installation provisioned; settings and starter content an earlier install made stay. */
  async undoProvision(req: AccountRef, ctx: CallContext): Promise<void> {
    const account = await this.find(req);
    // A provision that died between the settings and the account leaves no account: its settings go all the same (only
    // if that provision created them and nothing changed them since), or the next install would report them restored.
    if (!account && req.accountId && ctx.undoes) await this.store.accounts.removeSettingsIfCreatedBy(req.accountId, ctx.undoes);
    if (!account || account.installationId !== req.installationId) return;
    // The content and settings first: a retry after a death before the account's removal finds no account, and would leave them.
    if (this.withStarterContent) await this.store.starterContent.removeIfCreatedBy(account._id, req.installationId, ctx.undoes);
    if (ctx.undoes) await this.store.accounts.removeSettingsIfCreatedBy(account._id, ctx.undoes);
    await this.store.accounts.removeProvisioning(account._id, req.installationId);
  }

  /** Uninstall: account disabled, user mappings deactivated; settings and starter content kept. */
  async deprovision(req: AccountRef): Promise<void> {
    const account = await this.find(req);
    if (!account || account.installationId !== req.installationId) return;
    await this.store.accounts.deprovisionInstallation(account._id, req.installationId);
  }

  /** Every trial event (started, ended, extended, or one Talkdesk adds later) records the trial as it now stands. */
  async trial(req: TrialRequest, ctx: CallContext): Promise<void> {
    const account = await this.find(req);
    // Only the account's current installation: a late trial event of an earlier one must not overwrite a reinstall's.
    if (!account || account.installationId !== req.installationId) return;
    // A timed-out attempt of an earlier trial event still running (a zombie: no heartbeat timeout stops it)
    // must not overwrite the record a later event's attempt made: attempts are ordered by when they were scheduled.
    const at = ctx.attemptScheduledAt;
    if (at !== undefined && account.trialAttemptAt !== undefined && account.trialAttemptAt > at) return;
    await this.store.accounts.recordTrial(account._id, req.trial, at);
  }

  /** The account is this installation's (or not provisioned yet): an earlier installation's late call changes nothing. */
  private async isCurrent(req: AccountRef): Promise<boolean> {
    const account = await this.find(req);
    return !account || account.installationId === req.installationId;
  }

  private find(req: AccountRef) {
    return req.accountId ? this.store.accounts.getAccount(req.accountId) : this.store.accounts.findByInstallation(req.installationId);
  }
}
