import { heartbeat } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { eventAtOf, MongoProvisioner } from '../src/partner/mongodb';
import type { PartnerProvisioner, PartnerUser } from '../src/partner/provisioner';
import type { TalkdeskUser } from '../src/talkdesk/schemas';
import type {
  AccountCallInput,
  ProvisionInput,
  ProvisionResult,
  RevertInput,
  UpdateInput,
  UpdateResult,
} from '../workflows/activity-types';
import type { ActivityDeps } from './deps';
import { callContext, heartbeatingThroughout, refusalsRecorded, stopIfOutlived, whileHeartbeating } from './partner-calls';
import { toFailure } from './failures';
import { trialToRecord, type TrialInput } from './trial-record';
import { callKey } from '../src/partner/keys';
import { licensedDifference, readLicensedUsers } from './licensed-users';
import { CONFIRM, keyBasis, licensedUsersReading, readsListing } from './update-keys';
import { callsWithOneToken, type TalkdeskCalls } from './talkdesk-calls';
import { TalkdeskHttpError } from '../src/talkdesk/errors';
import { SessionStore } from '../src/store/sessions';
import { UpdatePlanStore, type UpdatePlan } from '../src/store/update-plans';
import { PartnerRefusedError } from '../src/partner/errors';

const toUser = (u: TalkdeskUser, admin: string | undefined): PartnerUser => ({
  id: u.id,
  email: u.email ?? undefined,
  name: u.name ?? undefined,
  role: u.id === admin ? 'admin' : 'user',
});

/** The failure type of an applyUpdate attempt that found its update given up (by a revert) before it was planned. */
export const UPDATE_GIVEN_UP = 'UpdateGivenUp';
const NO_CHANGE = { usersAdded: [], usersRemoved: [], newlyAdded: [] };
/** What a provision reads before the users, kept by its first attempt (LicensedUsersProgressStore.keepFirstFacts). */
interface ProvisionFacts {
  account: { id: string; name: string; company_name: string | null; timezone: string | null };
  admin: string | null;
  /** The partner's page size at the first attempt (absent in facts older versions kept, and for one that never pages). */
  pageSize?: number;
}

/**
 * The lifecycle's partner side. Activities read Talkdesk (account, licensed users,
 * the installing administrator) and hand facts to the partner provisioner, which
 * never sees a Talkdesk token. The service's own account record and user mappings
 * (single sign-on needs them) are kept here unless the provisioner keeps them
 * itself (the built-in MongoDB one).
 */

export function provisioningActivities(deps: ActivityDeps) {
  const { store, talkdesk, logger } = deps;
  // The callback ends them when the event arrives; an event handed over later (the dispatcher, the
  // backstop) ends them here, as the workflow applies it. Idempotent either way.
  const sessions = new SessionStore(store.db);
  const plans = new UpdatePlanStore(store.db);
  const partner: PartnerProvisioner = deps.partner ?? new MongoProvisioner(store);
  const ending = refusalsRecorded(deps, partner); // undo, revert, deprovision, trial: a final refusal does not stop the lifecycle
  const records: PartnerProvisioner | undefined = partner.keepsServiceRecords
    ? undefined
    : new MongoProvisioner(store, { starterContent: false });
  const findAccount = (input: { installationId: string; accountId?: string }) =>
    input.accountId ? store.accounts.getAccount(input.accountId) : store.accounts.findByInstallation(input.installationId);

  const reading = licensedUsersReading(store);

  /**
   * `created_by` of the installation. Talkdesk refusing it for good (no scope, not found) only means
   * nobody is marked admin; a failure worth retrying fails the attempt, so that every attempt that
   * reaches the partner sends the same `created_by` under the same key.
   */
  const installingAdmin = async (input: ProvisionInput, calls: TalkdeskCalls): Promise<string | undefined> => {
    try {
      const inst = await calls((token) => talkdesk.getInstallation(input.rootUrl, input.appId, input.installationId, token));
      return inst.created_by ?? undefined;
    } catch (err) {
      const failure = toFailure(err);
      if (!failure.nonRetryable) throw err;
      logger.warn(
        { installationId: input.installationId, reason: failure.message },
        'cannot read the installing administrator: nobody marked admin',
      );
      return undefined;
    }
  };

  /**
   * The users an update adds, as Talkdesk has them. Many (over USERS_READ_ONE_BY_ONE) are taken from the licensed
   * users' listing, read page by page and kept (a retry goes on from the last page): one GET per user, all
   * again at each attempt, could not finish thousands within an attempt. Any the listing lacks, and a few, are
   * read one by one; one Talkdesk no longer has (404: removed since the event) is left out, not the update.
   */
  const usersToAdd = async (input: UpdateInput, calls: TalkdeskCalls): Promise<TalkdeskUser[]> => {
    const wanted = new Set(input.usersAdding);
    const found: TalkdeskUser[] = [];
    if (readsListing(input)) {
      const licensed = await readLicensedUsers(
        (pageUrl) => calls((token) => talkdesk.licensedUsersPage(input.rootUrl, input.appId, input.installationId, token, pageUrl)),
        reading(input, 'account.update')?.saved,
      );
      for (const u of licensed) if (wanted.delete(u.id)) found.push(u);
    }
    for (const id of wanted) {
      // Only the user read's own 404 means gone (a token request's left every user out of the kept plan, approved so).
      const user = await calls((token) =>
        talkdesk.getUser(input.rootUrl, id, token).catch((err: unknown) => {
          if (err instanceof TalkdeskHttpError && err.kind === 'not_found') return undefined;
          throw err;
        }),
      );
      if (user) found.push(user);
      else
        logger.warn({ installationId: input.installationId, talkdeskUserId: id }, 'a user the update adds is gone at Talkdesk: left out');
      heartbeat(`user ${found.length}/${input.usersAdding.length}`);
    }
    return found;
  };

  /** The change an update makes, read from the account as it stands before it (the first attempt's). */
  const planUpdate = async (input: UpdateInput): Promise<UpdatePlan> => {
    const calls = callsWithOneToken(deps, input);
    const before = await store.accounts.getAccount(input.accountId);
    const existing = new Set((await store.accounts.listUsers(input.accountId)).filter((u) => u.active).map((u) => u.talkdeskUserId));
    const added: TalkdeskUser[] = [];
    let removing: string[];
    if (input.resyncUsers) {
      // A late update: its delta is stale. Talkdesk's licensed users are the truth; apply the difference.
      const readPage = (pageUrl?: string) =>
        calls((token) => talkdesk.licensedUsersPage(input.rootUrl, input.appId, input.installationId, token, pageUrl));
      const saved = [reading(input, 'account.update')?.saved, reading(input, 'account.update', CONFIRM)?.saved] as const;
      const difference = await licensedDifference(existing, readPage, ...saved);
      added.push(...difference.added);
      removing = difference.removing;
    } else {
      added.push(...(await usersToAdd(input, calls)));
      removing = input.usersRemoving.filter((id) => existing.has(id));
    }
    return {
      accountId: input.accountId,
      usersAdded: added.map((u) => toUser(u, before?.createdBy)),
      usersRemoved: removing,
      ...(input.subscription ? { subscription: input.subscription } : {}),
      newlyAdded: added.map((u) => u.id).filter((id) => !existing.has(id)),
      ...(before?.subscription ? { previousSubscription: before.subscription } : {}),
    };
  };

  /**
   * The change an update stopped while applying may have made: the plan its first attempt kept before
   * changing anything (under `key`, its call's). None: it was stopped before, nothing was applied.
   */
  const plannedChange = async (input: RevertInput, key: string): Promise<UpdateResult | undefined> => {
    const found = await plans.load(key);
    if (found) await plans.renew(key); // kept while the revert retries
    // None yet: given up, so that an attempt still planning (timed out, not yet stopped) applies nothing after this revert.
    const plan = found ?? (await plans.keepFirst(key, input.installationId, { ...NO_CHANGE, accountId: input.accountId, stopped: true }));
    if (plan.stopped) return undefined;
    return { usersAdded: plan.newlyAdded, usersDeactivated: plan.usersRemoved, previousSubscription: plan.previousSubscription };
  };

  return {
    /**
     * GET /account, the installation (its `created_by`) and every page of the licensed
     * users (heartbeating per page, resumed on retry), then the partner's provision. Keyed by Talkdesk ids and the call key, so
     * a retry after a crash never makes a second account or user.
     */
    async provisionAccount(input: ProvisionInput): Promise<ProvisionResult> {
      // Heartbeating from the start: a token, the account and the installation read from a slow Talkdesk (10 s each
      // at most) outlasted the 20 s heartbeat timeout before the first page's heartbeat.
      // Page by page, a heartbeat each and kept in the store, resumed from the last page read by the next attempt.
      const progress = reading(input, 'account.provision');
      const calls = callsWithOneToken(deps, input);
      // Read once, by the first attempt: every attempt sends the same body under the same key.
      const readFacts = async (): Promise<ProvisionFacts> => {
        const a = await calls((token) => talkdesk.getAccount(input.rootUrl, token));
        const facts: ProvisionFacts = {
          account: { id: a.id, name: a.name, company_name: a.company_name ?? null, timezone: a.timezone ?? null },
          admin: (await installingAdmin(input, calls)) ?? null,
          ...(partner.pageSize !== undefined ? { pageSize: partner.pageSize } : {}),
        };
        return progress
          ? ((await store.licensedUsersProgress.keepFirstFacts(progress.key, input.installationId, facts)) as ProvisionFacts)
          : facts;
      };
      // A retry with the facts saved heartbeats through its pages too: a token and a slow page outlasted the heartbeat
      // timeout before that page's own heartbeat.
      const { account, admin, users, pageSize } = await whileHeartbeating('reading the account at Talkdesk', async () => {
        const saved = progress ? ((await store.licensedUsersProgress.loadFacts(progress.key)) as ProvisionFacts | undefined) : undefined;
        const facts = saved ?? (await readFacts());
        if (progress) await store.licensedUsersProgress.sweepIfDue();
        const licensed = await readLicensedUsers(
          (pageUrl) => calls((token) => talkdesk.licensedUsersPage(input.rootUrl, input.appId, input.installationId, token, pageUrl)),
          progress?.saved,
        );
        return { ...facts, users: licensed };
      });
      const req = {
        account: {
          accountId: account.id,
          installationId: input.installationId,
          appId: input.appId,
          name: account.name || input.accountName,
          companyName: account.company_name ?? undefined,
          timezone: account.timezone ?? undefined,
        },
        users: users.map((u) => toUser(u, admin ?? undefined)),
        createdBy: admin ?? undefined,
        ...(pageSize !== undefined ? { pageSize } : {}),
      };
      const ctx = await callContext(deps, input.installationId, 'account.provision', input);
      // Refused before the hook when the service's own records would refuse it after: a partner that does not check
      // `occurred_at` would take a newer installation's account back, and this install's undo then remove it.
      if (records && (await store.accounts.newerHolds(account.id, input.installationId, eventAtOf(ctx))))
        throw new PartnerRefusedError(`account ${account.id} is provisioned by a newer installation of it`);
      const outcome = await whileHeartbeating('partner provisioning', () => partner.provision(req, ctx));
      // The service's own records (every user's mapping: thousands take tens of seconds) heartbeat too.
      const kept = records ? await whileHeartbeating('recording the account and its users', () => records.provision(req, ctx)) : outcome;
      if (outcome.partnerAccountId) await store.accounts.recordPartnerAccountId(account.id, outcome.partnerAccountId);
      // The reading stays until the install ends active (recordInstallation), an undo or the sweep: a retry after a
      // lost answer sends the same users.
      const settingsRestored = outcome.settingsRestored || kept.settingsRestored;
      logger.info(
        { installationId: input.installationId, accountId: account.id, users: users.length, settingsRestored, partner: partner.kind },
        'account provisioned',
      );
      return {
        accountId: account.id,
        // What the partner was sent: Talkdesk's, or the event's when Talkdesk's is empty (never blanks the state's).
        accountName: req.account.name,
        licensedUsers: users.length,
        settingsRestored,
        ...(outcome.partnerAccountId ? { partnerAccountId: outcome.partnerAccountId } : {}),
      };
    },

    /** Removes what an unfinished install provisioned; settings stay for a later reinstall. */
    undoProvisioning: heartbeatingThroughout('undoing the provisioning', async (input: AccountCallInput): Promise<void> => {
      const account = await findAccount(input);
      const ref = { installationId: input.installationId, accountId: input.accountId ?? account?._id };
      // Names the provision it undoes (the same event): a provision still running at the partner must not commit after it.
      const ctx = await callContext(deps, input.installationId, 'account.undo_provision', input, { undoes: 'account.provision' });
      if (records) await whileHeartbeating('removing the account records', () => records.undoProvision(ref, ctx));
      await whileHeartbeating('partner undo', () => ending.undoProvision(ref, ctx));
      await store.credentials.dropTokens(input.installationId);
      await store.licensedUsersProgress.clearInstallation(input.installationId);
      logger.info({ installationId: input.installationId }, 'provisioning undone');
    }),

    /**
     * Users added are fetched and mapped, users removed deactivated, the subscription recorded.
     * `resyncUsers`: the users are Talkdesk's licensed users instead of the event's delta. The change
     * is computed by the first attempt and kept (UpdatePlanStore): every retry sends the same request
     * and reports the same change, even after the first one applied it.
     */
    async applyUpdate(input: UpdateInput): Promise<UpdateResult> {
      const ctx = await callContext(deps, input.installationId, 'account.update', input, { basis: keyBasis(input) });
      // Heartbeating while planning: its first Talkdesk read (and a token) can outlast the heartbeat timeout.
      const plan =
        (await plans.load(ctx.key)) ??
        (await plans.keepFirst(ctx.key, input.installationId, await whileHeartbeating('planning the update', () => planUpdate(input))));
      // An attempt outliving its step (timed out, still running) after the workflow gave the update up: apply nothing.
      if (plan.stopped)
        throw ApplicationFailure.nonRetryable('the update was given up before its change was planned: nothing applied', UPDATE_GIVEN_UP);
      const req = {
        accountId: plan.accountId,
        installationId: input.installationId,
        usersAdded: plan.usersAdded,
        usersRemoved: plan.usersRemoved,
        ...(plan.subscription ? { subscription: plan.subscription } : {}),
      };
      await whileHeartbeating('partner update', () => partner.update(req, ctx));
      if (records) await whileHeartbeating('recording the update', () => records.update(req, ctx));
      // A listing was read (a resync, or many users added): its pages hold names and emails, gone once applied.
      const basis = keyBasis(input);
      const key = basis && readsListing(input) ? callKey(input.installationId, basis, 'account.update') : undefined;
      for (const k of key ? [key, key + CONFIRM] : []) await store.licensedUsersProgress.clear(k);
      await sessions.endForUsers(input.installationId, plan.usersRemoved);
      logger.info(
        { installationId: input.installationId, added: plan.usersAdded.length, removed: plan.usersRemoved.length },
        'update applied',
      );
      return {
        usersAdded: plan.newlyAdded,
        usersDeactivated: plan.usersRemoved,
        previousSubscription: plan.previousSubscription,
      };
    },

    /** Puts the account back as it was before an update that was never approved. */
    revertUpdate: heartbeatingThroughout('reverting the update', async (input: RevertInput): Promise<void> => {
      // `undoes`: the key of the update's own call, under which its plan is kept.
      const ctx = await callContext(deps, input.installationId, 'account.revert_update', input, {
        undoes: 'account.update',
        basis: keyBasis(input),
      });
      const applied = input.applied ?? (await plannedChange(input, ctx.undoes ?? ''));
      if (!applied) {
        logger.info({ installationId: input.installationId }, 'update stopped before it planned a change: nothing to revert');
        return;
      }
      const req = {
        accountId: input.accountId,
        installationId: input.installationId,
        usersAdded: applied.usersAdded,
        usersDeactivated: applied.usersDeactivated,
        previousSubscription: applied.previousSubscription ?? {},
      };
      await whileHeartbeating('partner revert', () => ending.revertUpdate(req, ctx));
      if (records) await whileHeartbeating('recording the revert', () => records.revertUpdate(req, ctx));
      logger.info({ installationId: input.installationId }, 'update reverted');
    }),

    /** Uninstall: account disabled, user mappings deactivated, cached tokens dropped, settings kept. */
    deprovisionAccount: heartbeatingThroughout('deprovisioning the account', async (input: AccountCallInput): Promise<void> => {
      const account = await findAccount(input);
      const ref = { installationId: input.installationId, accountId: input.accountId ?? account?._id };
      const ctx = await callContext(deps, input.installationId, 'account.deprovision', input);
      await whileHeartbeating('partner deprovision', () => ending.deprovision(ref, ctx));
      if (records) await whileHeartbeating('disabling the account records', () => records.deprovision(ref, ctx));
      await store.credentials.dropTokens(input.installationId);
      await store.licensedUsersProgress.clearInstallation(input.installationId);
      await sessions.endForInstallation(input.installationId);
      logger.info({ installationId: input.installationId }, 'account deprovisioned');
    }),

    /** Every trial event (started, ended, extended) records the trial as it now stands. */
    recordTrial: heartbeatingThroughout('recording the trial', async (input: TrialInput): Promise<void> => {
      const began = Date.now();
      const account = await findAccount(input);
      const req = {
        installationId: input.installationId,
        accountId: input.accountId ?? account?._id,
        type: input.eventType ?? (input.trial.endedAt ? 'app.trial_ended' : 'app.trial_started'),
        trial: trialToRecord(input, account?.trial),
        ...(input.fields ? { fields: input.fields } : {}),
      };
      // Without an event id, the trial itself keys the call: each trial event changes it.
      const ctx = await callContext(deps, input.installationId, 'account.trial', input, {
        fallbackBasis: `trial:${JSON.stringify(input.trial)}`,
      });
      // Trial records are not keyed to one another: a late attempt of an earlier event must not send after a later one.
      stopIfOutlived(began, 'trial record');
      await whileHeartbeating('partner trial', () => ending.trial(req, ctx));
      if (records) await records.trial(req, ctx);
      logger.info({ installationId: input.installationId, trial: input.trial }, 'trial recorded');
    }),
  };
}
