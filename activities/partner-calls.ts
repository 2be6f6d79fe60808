import { Context, heartbeat } from '@temporalio/activity';
import { callKey, type HookType } from '../src/partner/keys';
import { PartnerRefusedError, sanitiseReason } from '../src/partner/errors';
import type { CallContext, PartnerProvisioner } from '../src/partner/provisioner';
import type { PartnerEventRef } from '../workflows/activity-types';
import type { ActivityDeps } from './deps';

const HEARTBEAT_EVERY_MS = 1_000;

/**
 * The call context of one partner call made by an activity: its key (from the
 * installation, the Talkdesk event and the operation), the event's time, and the
 * activity's cancellation signal. Without an event id (a caller that predates it)
 * the key comes from the event time the workflow stored when the phase began,
 * which is the same on every retry of the phase. `undoes` (an undo, a revert): the
 * operation it undoes, whose key, from the same basis, goes in the context's `undoes`.
 */
export async function callContext(
  deps: ActivityDeps,
  installationId: string,
  operation: HookType,
  ref: PartnerEventRef,
  opts: { fallbackBasis?: string; undoes?: HookType; basis?: string } = {},
): Promise<CallContext> {
  let { eventId, occurredAt } = ref;
  if (!eventId || !occurredAt) {
    const rec = await deps.store.installations.get(installationId);
    occurredAt ??= rec?.lastEventAt ?? '';
    eventId ??= opts.fallbackBasis ?? `at:${occurredAt}`;
  }
  // When its event reached us, for the users a provision or update writes (our clock, as a removal's mark is).
  const licenses = operation === 'account.provision' || operation === 'account.update';
  const received = licenses && ref.eventId ? (await deps.store.inbox.get(ref.eventId))?.receivedAt : undefined;
  return {
    // `basis`: what keys the call in the event's stead (a late update's handling: activities/provisioning.ts).
    key: callKey(installationId, opts.basis ?? eventId, operation),
    ...(received ? { receivedAt: received.toISOString() } : {}),
    ...(opts.undoes ? { undoes: callKey(installationId, opts.basis ?? eventId, opts.undoes) } : {}),
    occurredAt,
    signal: Context.current().cancellationSignal,
    progress: (detail) => heartbeat(detail),
    attemptScheduledAt: Context.current().info.currentAttemptScheduledTimestampMs,
  };
}

/** When each running attempt last heartbeated through `whileHeartbeating` (by its activity context). */
const lastBeats = new WeakMap<Context, number>();
/** Attempts whose beats once stopped for their heartbeat timeout (the worker stalled): the server timed them out then. */
const stalled = new WeakSet<Context>();

function beat(label: string): void {
  const ctx = Context.current();
  const now = Date.now();
  const last = lastBeats.get(ctx);
  const limit = ctx.info.heartbeatTimeoutMs ?? 0;
  // Beats resumed after a stall do not make the attempt alive again: the server retried it meanwhile.
  if (last !== undefined && limit > 0 && now - last >= limit) stalled.add(ctx);
  heartbeat(label);
  lastBeats.set(ctx, now);
}

/**
 * Runs a partner call while heartbeating, so that an uninstall's cancellation
 * reaches the activity (and so the call's signal) even while the partner is slow.
 */
export async function whileHeartbeating<R>(label: string, fn: () => Promise<R>): Promise<R> {
  beat(label);
  const timer = setInterval(() => beat(label), HEARTBEAT_EVERY_MS);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}

/** The activity heartbeating from start to end, its store calls too: for those the workflow runs with a heartbeat timeout. */
export function heartbeatingThroughout<I, R>(label: string, fn: (input: I) => Promise<R>): (input: I) => Promise<R> {
  return (input) => whileHeartbeating(label, () => fn(input));
}

/**
 * Throws (retryable) when this attempt has already run longer than its start-to-close timeout: the server
 * has timed it out and retried it, and the workflow may have gone on to a later call whose effect this one
 * would overwrite (a trial record). Measured from `began`, taken by the activity on this worker's clock.
 */
export function stopIfOutlived(began: number, what: string): void {
  const ctx = Context.current();
  const limit = ctx.info.startToCloseTimeoutMs;
  if (limit > 0 && Date.now() - began >= limit) {
    throw new Error(`${what}: this attempt outlived its ${limit} ms timeout (the server has retried it), so it sends nothing`);
  }
  // With a heartbeat timeout, an attempt silent that long (its worker stalled) was timed out by the server too.
  const silentFor = Date.now() - (lastBeats.get(ctx) ?? began);
  const heartbeatLimit = ctx.info.heartbeatTimeoutMs ?? 0;
  if ((heartbeatLimit > 0 && silentFor >= heartbeatLimit) || stalled.has(ctx) || ctx.cancellationSignal.aborted) {
    throw new Error(`${what}: this attempt was timed out or cancelled (silent for ${silentFor} ms), so it sends nothing`);
  }
}

/**
 * The partner's undo, revert, deprovision and trial record with a final refusal (`PartnerRefusedError`, contract 4)
 * recorded in `partner_calls` and the step going on, as the HTTP provisioner does itself: thrown on by a custom
 * provisioner, it failed the workflow (an uninstall never acknowledged, the credentials never destroyed; a trial event
 * the partner refused stopped the installation's workflow, and every event queued behind it).
 */
export function refusalsRecorded(
  deps: ActivityDeps,
  partner: PartnerProvisioner,
): Pick<PartnerProvisioner, 'undoProvision' | 'revertUpdate' | 'deprovision' | 'trial'> {
  const recorded = async (type: HookType, installationId: string, ctx: CallContext, send: () => Promise<void>) => {
    try {
      await send();
    } catch (err) {
      if (!(err instanceof PartnerRefusedError)) throw err;
      const reason = sanitiseReason(err.reason);
      await deps.store.partnerCalls.recordRefusal({ id: ctx.key, installationId, type, httpStatus: err.status, reason });
      deps.logger.warn(
        { installationId, call: type, key: ctx.key, reason },
        'the partner refused a call for good: recorded in partner_calls',
      );
    }
  };
  return {
    undoProvision: (req, ctx) => recorded('account.undo_provision', req.installationId, ctx, () => partner.undoProvision(req, ctx)),
    revertUpdate: (req, ctx) => recorded('account.revert_update', req.installationId, ctx, () => partner.revertUpdate(req, ctx)),
    deprovision: (req, ctx) => recorded('account.deprovision', req.installationId, ctx, () => partner.deprovision(req, ctx)),
    trial: (req, ctx) => recorded('account.trial', req.installationId, ctx, () => partner.trial(req, ctx)),
  };
}
