import assert from 'node:assert/strict';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { ActivityDeps } from '../../activities/deps';
import { provisioningActivities } from '../../activities/provisioning';
import { createLogger } from '../../src/logging/logger';
import { callKey, type CallContext, type PartnerProvisioner } from '../../src/partner';

/** The undo and the revert name the call they undo: its key, from the same event (or the same fallback basis). */
describe('undo and revert name the provision and update they undo (ctx.undoes)', () => {
  const LAST_EVENT_AT = '2026-12-01T10:00:00.000Z';
  const seen: { op: string; ctx: CallContext }[] = [];
  const record = (op: string) => async (_req: unknown, ctx: CallContext) => void seen.push({ op, ctx });
  const partner = {
    kind: 'recording',
    keepsServiceRecords: true,
    provision: async () => ({ settingsRestored: false }),
    update: record('update'),
    revertUpdate: record('revert'),
    undoProvision: record('undo'),
    deprovision: record('deprovision'),
    trial: record('trial'),
  } satisfies PartnerProvisioner;
  const store = {
    db: { collection: () => ({}) },
    installations: { get: async () => ({ lastEventAt: LAST_EVENT_AT }) },
    accounts: { findByInstallation: async () => null, getAccount: async () => null },
    credentials: { dropTokens: async () => undefined },
    licensedUsersProgress: { clearInstallation: async () => undefined },
  };
  const acts = provisioningActivities({
    store: store as unknown as ActivityDeps['store'],
    talkdesk: {} as ActivityDeps['talkdesk'],
    logger: createLogger({ level: 'silent' }),
    partner,
  });
  const run = async (fn: () => Promise<void>) => {
    seen.length = 0;
    await new MockActivityEnvironment().run(fn);
    return seen.at(-1)?.ctx;
  };
  const applied = { usersAdded: [], usersDeactivated: [] };

  it('from the event id both keys come from', async () => {
    const undo = await run(() =>
      acts.undoProvisioning({ installationId: 'i1', accountId: 'a1', eventId: 'ev1', occurredAt: LAST_EVENT_AT }),
    );
    assert.equal(undo?.key, callKey('i1', 'ev1', 'account.undo_provision'));
    assert.equal(undo?.undoes, callKey('i1', 'ev1', 'account.provision'));
    const revert = await run(() =>
      acts.revertUpdate({ installationId: 'i1', accountId: 'a1', applied, eventId: 'ev2', occurredAt: LAST_EVENT_AT }),
    );
    assert.equal(revert?.key, callKey('i1', 'ev2', 'account.revert_update'));
    assert.equal(revert?.undoes, callKey('i1', 'ev2', 'account.update'));
  });

  it('without an event id, from the same fallback basis as the key (the event time stored)', async () => {
    const basis = `at:${LAST_EVENT_AT}`;
    const undo = await run(() => acts.undoProvisioning({ installationId: 'i1' }));
    assert.equal(undo?.key, callKey('i1', basis, 'account.undo_provision'));
    assert.equal(undo?.undoes, callKey('i1', basis, 'account.provision'));
    const revert = await run(() => acts.revertUpdate({ installationId: 'i1', accountId: 'a1', applied }));
    assert.equal(revert?.undoes, callKey('i1', basis, 'account.update'));
    assert.equal(
      (await run(() => acts.recordTrial({ installationId: 'i1', eventId: 'ev3', trial: {} })))?.undoes,
      undefined,
      'others undo nothing',
    );
  });
});
