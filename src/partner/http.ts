import type { Logger } from '../logging/logger';
import { undoneProvision, type PartnerCallStore } from './calls-store';
import { PartnerRefusedError, PartnerUnavailableError, PartnerUnreachableError } from './errors';
import { HookClient, type HookAnswer, type HookClientOptions } from './hook-client';
import { pageKey, type HookType } from './keys';
import type {
  AccountRef,
  CallContext,
  PartnerProvisioner,
  PartnerUser,
  ProvisionOutcome,
  ProvisionRequest,
  RevertRequest,
  TrialRequest,
  UpdateRequest,
  UserLogoutRequest,
} from './provisioner';

export interface HttpProvisionerOptions extends HookClientOptions {
  /** PARTNER_HOOKS_PAGE_SIZE: licensed users per provision / account.users call. */
  pageSize: number;
  calls: PartnerCallStore;
  logger: Logger;
}

/** The JSON body of every hook (docs/partner.md). */
export interface HookBody {
  id: string;
  type: HookType;
  installation_id: string;
  account_id: string | null;
  occurred_at: string;
  data: Record<string, unknown>;
}

const userJson = (u: PartnerUser) => ({ id: u.id, email: u.email ?? null, name: u.name ?? null, role: u.role });

/**
 * The partner's product behind its own HTTP endpoint: every operation is one
 * signed POST (a provision with many users, several in order). An undo or revert
 * names the call it undoes (`provision_id`, `update_id`: `ctx.undoes`), which may
 * still be running at the partner after our timeout gave up on it. What a final
 * refusal means depends on the operation: a provision or update fails (Talkdesk
 * is told the reason); a deprovision, undo, revert, trial or logout is recorded in
 * `partner_calls` and not retried. An undo the partner does not answer is kept
 * there and delivered by reconciliation (`retryOutstanding`).
 */
export class HttpProvisioner implements PartnerProvisioner {
  readonly kind = 'http';
  readonly pageSize: number;
  private readonly client: HookClient;
  constructor(private readonly opts: HttpProvisionerOptions) {
    this.client = new HookClient(opts);
    this.pageSize = opts.pageSize;
  }

  private body(type: HookType, id: string, ref: AccountRef, occurredAt: string, data: Record<string, unknown>): HookBody {
    return { id, type, installation_id: ref.installationId, account_id: ref.accountId ?? null, occurred_at: occurredAt, data };
  }

  private post(body: HookBody, signal: AbortSignal): Promise<HookAnswer> {
    return this.client.send(JSON.stringify(body), body.id, signal);
  }

  /** For calls whose refusal must not stop the lifecycle: record it for operators, and carry on. */
  private async refusalRecorded(body: HookBody, send: () => Promise<unknown>): Promise<void> {
    try {
      await send();
    } catch (err) {
      if (!(err instanceof PartnerRefusedError)) throw err;
      await this.opts.calls.recordRefusal({
        id: body.id,
        installationId: body.installation_id,
        type: body.type,
        httpStatus: err.status,
        reason: err.reason,
      });
      this.opts.logger.warn(
        { installationId: body.installation_id, hook: body.type, hookId: body.id, status: err.status, reason: err.reason },
        'the partner refused a hook: recorded in partner_calls, not retried',
      );
    }
  }

  async provision(req: ProvisionRequest, ctx: CallContext): Promise<ProvisionOutcome> {
    // The first attempt's split (a retry after PARTNER_HOOKS_PAGE_SIZE changed): page 1 is sent again under its key.
    const size = req.pageSize ?? this.pageSize;
    const pages = Math.max(1, Math.ceil(req.users.length / size));
    const ref = { installationId: req.account.installationId, accountId: req.account.accountId };
    await this.deliverEarlierUndos(ref.installationId, ctx);
    const first = await this.post(
      this.body('account.provision', ctx.key, ref, ctx.occurredAt, {
        app_id: req.account.appId,
        account: {
          id: req.account.accountId,
          name: req.account.name,
          company_name: req.account.companyName ?? null,
          timezone: req.account.timezone ?? null,
        },
        created_by: req.createdBy ?? null,
        users: req.users.slice(0, size).map(userJson),
        page: 1,
        pages,
      }),
      ctx.signal,
    );
    let partnerAccountId = first.partnerAccountId;
    for (let page = 2; page <= pages; page++) {
      ctx.progress?.(`users page ${page}/${pages}`);
      const users = req.users.slice((page - 1) * size, page * size).map(userJson);
      const answer = await this.post(
        // `provision_id`: the provision it is a page of, so an undo that names that provision covers its pages too.
        this.body('account.users', pageKey(ctx.key, page), ref, ctx.occurredAt, { users, page, pages, provision_id: ctx.key }),
        ctx.signal,
      );
      partnerAccountId ??= answer.partnerAccountId;
    }
    return { settingsRestored: false, ...(partnerAccountId ? { partnerAccountId } : {}) };
  }

  async update(req: UpdateRequest, ctx: CallContext): Promise<void> {
    await this.post(
      this.body('account.update', ctx.key, req, ctx.occurredAt, {
        users_added: req.usersAdded.map(userJson),
        users_removed: req.usersRemoved,
        subscription: req.subscription ?? null,
      }),
      ctx.signal,
    );
  }

  async revertUpdate(req: RevertRequest, ctx: CallContext): Promise<void> {
    const body = this.body('account.revert_update', ctx.key, req, ctx.occurredAt, {
      users_added: req.usersAdded,
      users_deactivated: req.usersDeactivated,
      previous_subscription: req.previousSubscription,
      // The update it reverts, which may still be running at the partner: it must not take effect after this.
      update_id: ctx.undoes ?? null,
    });
    await this.refusalRecorded(body, () => this.post(body, ctx.signal));
  }

  /**
   * An earlier install's undo still owed (kept outstanding: the partner did not take it) is delivered before this
   * provision, in order: delivered after it, by a reconciliation pass resending it while this provision's answer was
   * lost (a timeout, a worker killed), it would remove the account this one creates. Not taken, this provision waits
   * (PartnerUnavailableError: the step is retried); refused for good, it is recorded as any refused undo. An undo of
   * this very provision (a retry of a provision undone meanwhile) is left as it is.
   */
  private async deliverEarlierUndos(installationId: string, ctx: CallContext): Promise<void> {
    for (const rec of await this.opts.calls.outstanding(installationId)) {
      if (rec.type !== 'account.undo_provision' || !rec.body || undoneProvision(rec) === ctx.key) continue;
      try {
        await this.client.send(rec.body, rec._id, ctx.signal);
        await this.opts.calls.deliveredIfOutstanding(rec._id);
        this.opts.logger.info(
          { installationId, hook: rec.type, hookId: rec._id },
          "an earlier install's undo delivered before the provision",
        );
      } catch (err) {
        if (!(err instanceof PartnerRefusedError)) throw err;
        await this.opts.calls.recordRefusal({ id: rec._id, installationId, type: rec.type, httpStatus: err.status, reason: err.reason });
      }
    }
  }

  /** Never blocks the lifecycle: a partner that does not answer gets the undo later, from reconciliation. */
  async undoProvision(req: AccountRef, ctx: CallContext): Promise<void> {
    // The provision it undoes, which may still be running at the partner: it must not take effect after this.
    const body = this.body('account.undo_provision', ctx.key, req, ctx.occurredAt, { provision_id: ctx.undoes ?? null });
    try {
      await this.refusalRecorded(body, () => this.post(body, ctx.signal));
      // Taken by a retried attempt after an earlier one kept it: no longer outstanding (reconciliation would send it again).
      await this.opts.calls.deliveredIfOutstanding(body.id);
    } catch (err) {
      if (!(err instanceof PartnerUnavailableError)) throw err;
      await this.opts.calls.keepOutstanding({
        id: body.id,
        installationId: req.installationId,
        type: body.type,
        body: JSON.stringify(body),
        lastError: err.message,
      });
      this.opts.logger.warn(
        { installationId: req.installationId, hook: body.type, hookId: body.id, reason: err.message },
        'the partner did not take the undo: kept in partner_calls, reconciliation delivers it',
      );
    }
  }

  /** Talkdesk cannot be refused an uninstall: a refusal is recorded and the uninstall completes. */
  async deprovision(req: AccountRef, ctx: CallContext): Promise<void> {
    const body = this.body('account.deprovision', ctx.key, req, ctx.occurredAt, {});
    await this.refusalRecorded(body, () => this.post(body, ctx.signal));
  }

  async trial(req: TrialRequest, ctx: CallContext): Promise<void> {
    const body = this.body('account.trial', ctx.key, req, ctx.occurredAt, {
      event_type: req.type,
      trial: {
        started_at: req.trial.startedAt ?? null,
        expires_at: req.trial.expiresAt ?? null,
        ended_at: req.trial.endedAt ?? null,
        ended_reason: req.trial.endedReason ?? null,
        ended_by: req.trial.endedBy ?? null,
      },
      fields: req.fields ?? {},
    });
    await this.refusalRecorded(body, () => this.post(body, ctx.signal));
  }

  async userLogout(req: UserLogoutRequest, ctx: CallContext): Promise<void> {
    const body = this.body('user.logout', ctx.key, req, req.occurredAt, {
      talkdesk_user_id: req.talkdeskUserId,
      email: req.email ?? null,
      event_id: req.eventId,
      logged_out_at: req.loggedOutAt ?? req.occurredAt,
    });
    await this.refusalRecorded(body, () => this.post(body, ctx.signal));
  }

  /**
   * Sends the installation's outstanding calls again (same id, same body), oldest first. A partner that does not answer
   * at all stops them (thrown, the rest left outstanding): each would wait out its timeout in turn.
   */
  async retryOutstanding(installationId: string): Promise<number> {
    let left = 0;
    for (const rec of await this.opts.calls.outstanding(installationId)) {
      if (!rec.body) continue;
      // The list was read before the sends ahead of this one (each up to PARTNER_HOOKS_TIMEOUT_MS): a reinstall's
      // provision may have delivered an undo meanwhile (deliverEarlierUndos), or an earlier version superseded it.
      if (!(await this.opts.calls.stillOutstanding(rec._id))) continue;
      try {
        await this.client.send(rec.body, rec._id, new AbortController().signal);
        await this.opts.calls.markDelivered(rec._id);
        this.opts.logger.info({ installationId, hook: rec.type, hookId: rec._id }, 'outstanding partner call delivered');
      } catch (err) {
        if (err instanceof PartnerRefusedError) {
          await this.opts.calls.recordRefusal({ id: rec._id, installationId, type: rec.type, httpStatus: err.status, reason: err.reason });
        } else {
          left += 1;
          await this.opts.calls.noteAttempt(rec._id, err instanceof Error ? err.message : 'failed');
          if (err instanceof PartnerUnreachableError) throw err;
        }
      }
    }
    return left;
  }
}
