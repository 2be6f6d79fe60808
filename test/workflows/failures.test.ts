import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { PARTNER_REFUSED } from '../../workflows/activity-types';
import { ActivityStubs, clientIdFor, phases, refused, unavailable, useInstallationUnderTest } from './harness';
import { uninstallBeforeItsInstall } from './scenarios';

/** Failures retrying cannot fix, and a run that starts from what the store remembers. */
describe('installation workflow: failures and a resumed run', function () {
  this.timeout(60_000);
  const { start } = useInstallationUnderTest();

  it('an install whose provisioning the partner refuses is rejected at Talkdesk with its reason, and undone', async () => {
    const stubs = new ActivityStubs().on('provisionAccount', async () => {
      throw ApplicationFailure.nonRetryable('account name already taken', PARTNER_REFUSED);
    });
    const t = await start(stubs);
    await t.send(t.event('app.installed'));
    const done = await t.result();
    assert.equal(done.phase, 'rejected');
    assert.deepEqual(phases(done), ['installing']);
    assert.equal(t.stubs.of('provisionAccount').length, 1, 'not retried');
    const reject = t.stubs.of('setInstallationState');
    assert.deepEqual(
      reject.map((c) => [c.state, c.reason]),
      [['reject', 'Provisioning failed: account name already taken']],
    );
    assert.deepEqual(t.stubs.names().slice(-4), ['setInstallationState', 'undoProvisioning', 'destroyCredentials', 'recordInstallation']);
    assert.match(done.lastError ?? '', /account name already taken/);
    assert.match(await t.currentDetails(), /Last error: Provisioning failed: account name already taken/);
  });

  it("a failure not the partner's tells Talkdesk its type only; its message, for operators, stays in the history", async () => {
    const message = 'Cannot decrypt secret with key k1. Check that SECRETS_KEY still lists the key id the credentials were encrypted with.';
    const stubs = new ActivityStubs().on('provisionAccount', async () => {
      throw ApplicationFailure.nonRetryable(message, 'CredentialsUnreadable');
    });
    const t = await start(stubs);
    await t.send(t.event('app.installed'));
    const done = await t.result();
    assert.equal(done.phase, 'rejected');
    const told = "Provisioning failed: the app's service could not complete it (CredentialsUnreadable). Contact the app's provider.";
    assert.deepEqual(
      t.stubs.of('setInstallationState').map((c) => [c.state, c.reason]),
      [['reject', told]],
    );
    const ended = done.history.at(-1);
    assert.equal(ended?.detail, `Provisioning failed: ${message}`);
    assert.equal(ended?.outcome, `Provisioning failed: ${message} (rejection sent: "${told}")`);
    assert.equal(done.lastError, `Provisioning failed: ${message}`);
  });

  it('an update that fails for good is reverted and rejected; the installation stays active', async () => {
    const stubs = new ActivityStubs().on('setInstallationState', async (i) => {
      if (i.concludes === 'update') throw refused('update not allowed');
      return { state: i.state === 'approve' ? 'completed' : 'rejected' };
    });
    const t = await start(stubs);
    await t.send(t.event('app.installed'));
    await t.settled('active');
    await t.send(t.event('app.updated', { facts: { users: { adding: ['u1'], removing: [] }, subscription: { plan: 'pro' } } }));
    const v = await t.settled('active', (s) => s.history.at(-1)?.phase === 'updating' && s.history.at(-1)?.endedAt !== undefined);
    assert.deepEqual(t.stubs.stateCalls(), ['approve:install', 'approve:update', 'reject']);
    assert.equal(t.stubs.of('revertUpdate').length, 1);
    assert.ok(t.stubs.names().indexOf('revertUpdate') < t.stubs.names().lastIndexOf('setInstallationState'), 'reverted before rejecting');
    assert.equal(v.subscription, undefined, 'the subscription of a failed update is not kept');
    // Why, where operators look, after the revert and rejection steps that succeeded: lastError and the UI's current details.
    assert.match(v.lastError ?? '', /^Update failed: .*update not allowed/);
    assert.match(await t.currentDetails(), /Last error: Update failed: .*update not allowed/);
  });

  it('a new run starts from the stored installation: a handled event is not applied again, the next one is', async () => {
    const handledInstall = 'install-handled-before';
    const stubs = new ActivityStubs().on('loadInstallation', async () => ({
      phase: 'active',
      lastEventAt: new Date(Date.now() - 60_000).toISOString(),
      handledEventIds: [handledInstall],
      appId: 'app-1',
      accountId: 'acct-1',
      accountName: 'Acme',
      activeClientId: clientIdFor(handledInstall),
      links: { root: 'https://api.talkdesk.test' },
    }));
    const t = await start(stubs);
    await t.send(t.event('app.installed', { id: handledInstall, atSeconds: -60 }));
    const v = await t.until('the handled install to be ignored', (s) => s.ignoredEvents.some((e) => e.eventId === handledInstall));
    assert.equal(v.phase, 'active');
    assert.equal(v.activeClientId, clientIdFor(handledInstall));
    assert.deepEqual(t.stubs.of('importCredentials'), []);

    await t.send(t.event('app.updated'));
    const updated = await t.settled('active', (s) => s.appliedEvents === 1);
    assert.deepEqual(phases(updated), ['updating']);
    assert.equal(t.stubs.of('applyUpdate')[0]?.clientId, clientIdFor(handledInstall), 'the stored credentials are used');
  });

  it('an update whose change fails for good is rejected, and reverted from its plan first (an earlier attempt may have applied it)', async () => {
    let attempts = 0;
    const stubs = new ActivityStubs().on('applyUpdate', async () => {
      // The first attempt timed out after the partner applied it; the next is refused.
      if (attempts++ === 0) throw unavailable();
      throw refused('the partner refused the update');
    });
    const t = await start(stubs);
    await t.send(t.event('app.installed'));
    await t.settled('active');
    const update = t.event('app.updated', { facts: { users: { adding: ['u1'], removing: [] } } });
    await t.send(update);
    const v = await t.settled('active', (s) => s.history.at(-1)?.phase === 'updating' && s.history.at(-1)?.endedAt !== undefined);
    assert.equal(v.history.at(-1)?.result, 'rejected');
    assert.deepEqual(t.stubs.stateCalls(), ['approve:install', 'reject']);
    assert.deepEqual(t.stubs.of('revertUpdate'), [
      { installationId: t.installationId, accountId: 'acct-1', eventId: update.eventId, occurredAt: update.createdAt },
    ]);
    assert.ok(t.stubs.names().indexOf('revertUpdate') < t.stubs.names().lastIndexOf('setInstallationState'), 'reverted before rejecting');
  });

  it('a step failing for good outside a phase (a revert) fails the workflow with a typed failure, not its task forever', async function () {
    const stubs = new ActivityStubs()
      .on('setInstallationState', async (i) => {
        if (i.concludes === 'update') throw refused('update not allowed');
        return { state: i.state === 'approve' ? 'completed' : 'rejected' };
      })
      .on('revertUpdate', async () => {
        throw refused('account no longer exists');
      });
    const t = await start(stubs);
    await t.send(t.event('app.installed'));
    await t.settled('active');
    await t.send(t.event('app.updated', { facts: { users: { adding: ['u1'], removing: [] } } }));
    const failure = await Promise.race([
      t.result().then(
        () => undefined,
        (err: unknown) => err,
      ),
      new Promise((resolve) => setTimeout(() => resolve('still running after 20 s'), 20_000)),
    ]);
    assert.ok(failure instanceof WorkflowFailedError, `the workflow failed: ${String(failure)}`);
    const cause = failure.cause;
    assert.ok(cause instanceof ApplicationFailure);
    assert.equal(cause.type, 'InstallationStepFailed');
    assert.equal(cause.nonRetryable, true);
    assert.match(cause.message, /revert the update failed for good.*account no longer exists/);
    assert.deepEqual(cause.details?.[0], { step: 'revert the update', failureType: 'TalkdeskBadRequest' });
  });

  it('an install adopted for a queued uninstall whose credentials cannot be imported: the uninstall still completes', async () => {
    const stubs = new ActivityStubs().on('importCredentials', async () => {
      throw refused('event carries no usable credentials');
    });
    const t = await start(stubs);
    const { install, done } = await uninstallBeforeItsInstall(t);
    assert.equal(done.phase, 'uninstalled');
    assert.match(done.ignoredEvents.find((e) => e.eventId === install.eventId)?.reason ?? '', /could not be imported/);
    assert.equal(done.history.at(-1)?.result, 'deprovisioned');
    assert.deepEqual(t.stubs.stateCalls(), []);
  });
});
