import assert from 'node:assert/strict';
import { reconcileSignal, rejectUpdate } from '../../workflows/definitions';
import { ActivityStubs, deferred, phases, refusal, refused, unavailable, useInstallationUnderTest } from './harness';

/**
 * An operator's `reject` applies to the operation it stopped (patch
 * operator-reject-concluded-operations): an update is rejected alone and the installation Talkdesk
 * keeps is kept; an operation Talkdesk concluded before the reject could stop it is not undone.
 */
describe('installation workflow: an operator reject concludes only what it stopped', function () {
  this.timeout(60_000);
  const { start } = useInstallationUnderTest();

  it('during an update: the update is rejected at Talkdesk and reverted; the installation stays active, nothing destroyed', async () => {
    const stubs = new ActivityStubs().on('setInstallationState', async (i) => {
      if (i.state === 'approve' && i.concludes === 'update') throw unavailable();
      return { state: i.state === 'approve' ? 'completed' : 'rejected' };
    });
    const t = await start(stubs);
    await t.send(t.event('app.installed'));
    await t.settled('active');
    await t.send(t.event('app.updated', { facts: { users: { adding: ['u1'], removing: [] } } }));
    await t.until('the update retrying its approval', (v) => v.phase === 'updating' && v.lastError !== undefined);
    await t.handle.executeUpdate(rejectUpdate, { args: [{ reason: 'bad plan change' }] });
    const v = await t.settled('active', (s) => s.history.at(-1)?.result === 'rejected');
    assert.deepEqual(
      t.stubs.of('setInstallationState').map((c) => `${c.state}:${c.concludes ?? ''}`),
      ['approve:install', 'approve:update', 'reject:update'],
    );
    assert.equal(t.stubs.of('setInstallationState').at(-1)?.reason, 'Rejected by operator: bad plan change');
    assert.deepEqual(t.stubs.of('revertUpdate')[0]?.applied, { usersAdded: ['u1'], usersDeactivated: [] });
    for (const teardown of ['undoProvisioning', 'destroyCredentials', 'deprovisionAccount'] as const)
      assert.ok(!t.stubs.names().includes(teardown), `no ${teardown}`);
    assert.ok(v.activeClientId, 'credentials kept');
    assert.match(v.history.at(-1)?.outcome ?? '', /update rejected by an operator: bad plan change .*account kept its previous state/);
    assert.equal((await t.handle.describe()).status.name, 'RUNNING');
  });

  it("after an update failed and while its own rejection retried: the reject stops that retry and sends the update's rejection", async () => {
    let ownRejection = 0;
    const stubs = new ActivityStubs()
      .on('applyUpdate', async () => {
        throw refused('the partner refused the plan');
      })
      .on('setInstallationState', async (i) => {
        if (i.state === 'reject' && !String(i.reason).startsWith('Rejected by operator')) {
          ownRejection += 1;
          throw unavailable();
        }
        return { state: i.state === 'approve' ? 'completed' : 'rejected' };
      });
    const t = await start(stubs);
    await t.send(t.event('app.installed'));
    await t.settled('active');
    await t.send(t.event('app.updated', { facts: { users: { adding: ['u1'], removing: [] } } }));
    await t.until('the update rejection retrying', () => ownRejection >= 2);
    await t.handle.executeUpdate(rejectUpdate, { args: [{ reason: 'plan not allowed' }] });
    const v = await t.settled('active', (s) => s.history.at(-1)?.detail === 'Rejected by operator: plan not allowed');
    const rejections = t.stubs.of('setInstallationState').filter((c) => c.state === 'reject');
    assert.equal(rejections.at(-1)?.reason, 'Rejected by operator: plan not allowed');
    assert.equal(rejections.at(-1)?.concludes, 'update');
    assert.equal(v.history.at(-1)?.result, 'rejected');
    assert.match(v.history.at(-1)?.outcome ?? '', /\(the update had ended rejected\) \(rejection sent\)/);
    for (const teardown of ['undoProvisioning', 'destroyCredentials'] as const)
      assert.ok(!t.stubs.names().includes(teardown), `no ${teardown}`);
  });

  it('while the install approval is landing: Talkdesk completes it, the installation is kept and the reject noted', async () => {
    const inApprove = deferred();
    const release = deferred();
    const stubs = new ActivityStubs().on('setInstallationState', async (i) => {
      if (i.state === 'approve' && i.concludes === 'install') {
        inApprove.resolve();
        await release.promise; // the POST is in flight and Talkdesk takes it
        return { state: 'completed' };
      }
      return { state: 'completed', notSent: true };
    });
    const t = await start(stubs);
    await t.send(t.event('app.installed'));
    await inApprove.promise;
    await t.handle.executeUpdate(rejectUpdate, { args: [{ reason: 'fraud check' }] });
    release.resolve();
    const v = await t.settled('active', (s) => s.history.at(-1)?.result === 'not-open');
    assert.deepEqual(phases(v).slice(0, 1), ['installing']);
    assert.equal(v.history[0]?.result, 'approved');
    assert.match(v.history.at(-1)?.outcome ?? '', /operator reject not applied: the install was approved at Talkdesk/);
    assert.deepEqual(
      t.stubs.of('setInstallationState').map((c) => c.state),
      ['approve'],
      'no rejection sent',
    );
    for (const teardown of ['undoProvisioning', 'destroyCredentials'] as const)
      assert.ok(!t.stubs.names().includes(teardown), `no ${teardown}`);
    assert.deepEqual(
      v.operatorActions.map((a) => a.action),
      ['reject'],
    );
  });
  it('during an install with a second install queued: that one is rejected too, and the destroy spares neither copy', async () => {
    const stubs = new ActivityStubs().on('setInstallationState', async (i) => {
      if (i.state === 'approve') throw unavailable();
      return { state: 'rejected' };
    });
    const t = await start(stubs);
    await t.send(t.event('app.installed', { atSeconds: 1 }));
    await t.until('the install retrying its approval', (v) => v.phase === 'installing' && v.lastError !== undefined);
    const second = t.event('app.installed', { atSeconds: 5 });
    await t.send(second);
    await t.until('the second install queued', (v) => v.pendingEvents.some((p) => p.includes(second.eventId)));
    await t.handle.executeUpdate(rejectUpdate, { args: [{ reason: 'duplicate account' }] });
    const done = await t.result();
    assert.equal(done.phase, 'rejected');
    assert.match(done.ignoredEvents.find((e) => e.eventId === second.eventId)?.reason ?? '', /rejected by an operator/);
    // Taken out of the queue and never imported: its copy is not spared as a reinstall's would be.
    assert.deepEqual(t.stubs.of('destroyCredentials'), [{ installationId: t.installationId, keepNewerThan: second.createdAt }]);
  });

  it("while a failed install's own rejection retries: a reject is refused (it would stop that rejection, whose credentials are destroyed after), the rejection is sent", async () => {
    let ownRejection = 0;
    let talkdeskUp = false;
    const stubs = new ActivityStubs()
      .on('provisionAccount', async () => {
        throw refused('the partner refused the account');
      })
      .on('setInstallationState', async (i) => {
        if (i.state === 'reject' && !talkdeskUp) {
          ownRejection += 1;
          throw unavailable();
        }
        return { state: 'rejected' };
      });
    const t = await start(stubs);
    await t.send(t.event('app.installed'));
    await t.until('the install rejection retrying', () => ownRejection >= 2);
    assert.match(await refusal(t.handle.executeUpdate(rejectUpdate, { args: [{ reason: 'fraud check' }] })), /already ending/);
    talkdeskUp = true;
    const done = await t.result();
    assert.equal(done.phase, 'rejected');
    assert.match(done.history.at(-1)?.outcome ?? '', /Provisioning failed: the partner refused the account \(rejection sent/);
    assert.deepEqual(done.operatorActions, []);
    // Sent before the credentials were destroyed: once the state call completed, then the undo and the destroy.
    const names = t.stubs.names();
    assert.ok(names.lastIndexOf('setInstallationState') < names.indexOf('destroyCredentials'), names.join(', '));
  });

  it("while an operator's reject of an install is being sent: a second reject is refused, the first's rejection is sent", async () => {
    let rejections = 0;
    let talkdeskUp = false;
    const stubs = new ActivityStubs().on('setInstallationState', async (i) => {
      if (i.state === 'approve') throw unavailable();
      rejections += 1;
      if (!talkdeskUp) throw unavailable();
      return { state: 'rejected' };
    });
    const t = await start(stubs);
    await t.send(t.event('app.installed'));
    await t.until('the install retrying its approval', (v) => v.phase === 'installing' && v.lastError !== undefined);
    await t.handle.executeUpdate(rejectUpdate, { args: [{ reason: 'first' }] });
    await t.until('the rejection retrying', () => rejections >= 2);
    assert.match(await refusal(t.handle.executeUpdate(rejectUpdate, { args: [{ reason: 'second' }] })), /already ending/);
    talkdeskUp = true;
    const done = await t.result();
    assert.equal(done.phase, 'rejected');
    assert.match(done.history.at(-1)?.outcome ?? '', /rejected by an operator: first \(rejection sent\)/);
    assert.deepEqual(
      done.operatorActions.map((a) => a.reason),
      ['first'],
    );
  });

  it('while reconciliation deprovisions the install (Talkdesk shows it revoked): a reject is refused, the installation ends uninstalled', async () => {
    const inDeprovision = deferred();
    const release = deferred();
    const stubs = new ActivityStubs()
      .on('setInstallationState', async (i) => {
        if (i.state === 'approve') throw unavailable();
        return { state: 'rejected' };
      })
      .on('deprovisionAccount', async () => {
        inDeprovision.resolve();
        await release.promise;
      });
    const t = await start(stubs);
    await t.send(t.event('app.installed'));
    await t.until('the install retrying its approval', (v) => v.phase === 'installing' && v.lastError !== undefined);
    await t.handle.signal(reconcileSignal, { action: 'deprovision', talkdeskState: 'revoked' });
    await inDeprovision.promise;
    assert.match(await refusal(t.handle.executeUpdate(rejectUpdate, { args: [{ reason: 'too late' }] })), /already ending/);
    release.resolve();
    const done = await t.result();
    assert.equal(done.phase, 'uninstalled');
    assert.ok(!t.stubs.of('setInstallationState').some((c) => c.state === 'reject'), 'no rejection sent');
  });
  it('while an uninstall waits (the install it interrupted is undoing its provisioning): a reject is refused, the uninstall is acknowledged', async () => {
    const inUndo = deferred();
    const release = deferred();
    const stubs = new ActivityStubs()
      .on('setInstallationState', async (i) => {
        if (i.state === 'approve' && i.concludes === 'install') throw unavailable();
        return { state: 'approved' };
      })
      .on('undoProvisioning', async () => {
        inUndo.resolve();
        await release.promise;
      });
    const t = await start(stubs);
    await t.send(t.event('app.installed'));
    await t.until('the install retrying its approval', (v) => v.phase === 'installing' && v.lastError !== undefined);
    await t.send(t.event('app.uninstalled'));
    await inUndo.promise;
    assert.match(await refusal(t.handle.executeUpdate(rejectUpdate, { args: [{ reason: 'too late' }] })), /uninstalled the app/);
    release.resolve();
    const done = await t.result();
    assert.equal(done.phase, 'uninstalled');
    assert.deepEqual(
      t.stubs
        .of('setInstallationState')
        .filter((c) => c.concludes !== 'install')
        .map((c) => `${c.state}:${c.concludes}`),
      ['approve:uninstall'],
    );
    assert.deepEqual(done.operatorActions, []);
  });

  describe('stopping an install whose approval was sent (an attempt whose answer was lost may have landed)', () => {
    /** An install whose approval attempts all fail (the first landed at Talkdesk, its answer lost); the reject is answered `reject`. */
    const rejectedWhileApproving = async (reject: (i: Record<string, unknown>) => Promise<unknown>) => {
      const stubs = new ActivityStubs().on('setInstallationState', async (i) => {
        if (i.state === 'approve') throw unavailable();
        return reject(i);
      });
      const t = await start(stubs);
      await t.send(t.event('app.installed'));
      await t.until('the install retrying its approval', (v) => v.phase === 'installing' && v.attempts > 1);
      await t.handle.executeUpdate(rejectUpdate, { args: [{ reason: 'fraud check' }] });
      return t;
    };

    it('Talkdesk shows the install completed: nothing is undone, the installation is kept active and the reject noted', async () => {
      const t = await rejectedWhileApproving(async () => ({ state: 'completed', notSent: true }));
      const v = await t.settled('active', (s) => s.history.at(-1)?.result === 'not-open');
      assert.match(v.history.at(-1)?.outcome ?? '', /operator reject not applied: the install was approved at Talkdesk/);
      for (const teardown of ['undoProvisioning', 'destroyCredentials'] as const)
        assert.ok(!t.stubs.names().includes(teardown), `no ${teardown} (Talkdesk shows the app installed)`);
      assert.ok(v.activeClientId, 'credentials kept');
      assert.equal((await t.handle.describe()).status.name, 'RUNNING');
    });

    // `updating` and `uninstalled`: the launch guide's names for them (patch operator-reject-reads-open-state-names).
    for (const shown of ['pending', 'updating', 'uninstalled']) {
      it(`Talkdesk opened an update or uninstall since (${shown}): the reject reads first, so it does not conclude it; the install is kept`, async () => {
        // Read first, the activity finds it open and sends nothing; sent blind, one state endpoint concludes whatever is open.
        const t = await rejectedWhileApproving(async (i) => (i.checkFirst ? { state: shown, notSent: true } : { state: 'rejected' }));
        const v = await t.settled('active', (s) => s.history.at(-1)?.result === 'not-open');
        assert.equal(v.history.at(-1)?.detail, `Talkdesk shows the install ${shown}`);
        assert.equal(t.stubs.of('setInstallationState').at(-1)?.checkFirst, true, 'the reject read Talkdesk on its first attempt');
        assert.ok(!t.stubs.names().includes('undoProvisioning'));
      });
    }

    it('Talkdesk still shows it installing: the rejection is sent first, then the provisioning undone', async () => {
      const t = await rejectedWhileApproving(async () => ({ state: 'rejected' }));
      const done = await t.result();
      assert.equal(done.phase, 'rejected');
      const names = t.stubs.names();
      assert.ok(names.lastIndexOf('setInstallationState') < names.indexOf('undoProvisioning'), 'read (and sent) before the undo');
      assert.ok(names.includes('destroyCredentials'));
    });
  });
  describe('stopping an update whose approval was sent (an attempt whose answer was lost may have landed)', () => {
    /** An update whose approval attempts all fail (the first landed at Talkdesk, its answer lost); the reject is answered by `reject`. */
    const rejectedWhileApproving = async (reject: (i: Record<string, unknown>) => Promise<unknown>, stubs = new ActivityStubs()) => {
      stubs.on('setInstallationState', async (i) => {
        if (i.state === 'approve' && i.concludes === 'update') throw unavailable();
        return i.state === 'approve' ? { state: 'completed' } : reject(i);
      });
      const t = await start(stubs);
      await t.send(t.event('app.installed'));
      await t.settled('active');
      const update = t.event('app.updated', {
        facts: { users: { adding: ['u1'], removing: [] }, subscription: { gold: { name: 'Gold', licenses: 5 } } },
      });
      await t.send(update);
      await t.until('the update retrying its approval', (v) => v.phase === 'updating' && v.attempts > 1);
      await t.handle.executeUpdate(rejectUpdate, { args: [{ reason: 'bad plan change' }] });
      return t;
    };

    it('Talkdesk shows the update completed: it is not reverted, its subscription kept, the reject noted', async () => {
      const t = await rejectedWhileApproving(async () => ({ state: 'completed', notSent: true }));
      const v = await t.settled('active', (s) => s.history.at(-1)?.result === 'not-open');
      assert.match(v.history.at(-1)?.outcome ?? '', /operator reject not applied: the update was approved at Talkdesk/);
      assert.equal(t.stubs.of('setInstallationState').at(-1)?.checkFirst, true, 'the reject read Talkdesk on its first attempt');
      assert.ok(!t.stubs.names().includes('revertUpdate'), 'not reverted: Talkdesk shows it completed');
      assert.deepEqual(v.subscription, { gold: { name: 'Gold', licenses: 5 } }, "the update's subscription is the account's");
      assert.equal((await t.handle.describe()).status.name, 'RUNNING');
    });

    it('Talkdesk still shows the update open: the rejection is sent first, then the update reverted', async () => {
      const t = await rejectedWhileApproving(async () => ({ state: 'rejected' }));
      const v = await t.settled('active', (s) => s.history.at(-1)?.result === 'rejected');
      const names = t.stubs.names();
      assert.ok(names.lastIndexOf('setInstallationState') < names.indexOf('revertUpdate'), 'rejected before the revert');
      assert.deepEqual(t.stubs.of('revertUpdate')[0]?.applied, { usersAdded: ['u1'], usersDeactivated: [] });
      assert.equal(t.stubs.of('setInstallationState').at(-1)?.reason, 'Rejected by operator: bad plan change');
      assert.match(v.history.at(-1)?.outcome ?? '', /update rejected by an operator: bad plan change/);
    });

    it('Talkdesk shows the update timed out: no rejection is sent, the update is reverted', async () => {
      const t = await rejectedWhileApproving(async () => ({ state: 'timeout', notSent: true }));
      const v = await t.settled('active', (s) => s.history.at(-1)?.result === 'rejected');
      assert.deepEqual(t.stubs.of('revertUpdate')[0]?.applied, { usersAdded: ['u1'], usersDeactivated: [] });
      assert.match(v.history.at(-1)?.outcome ?? '', /rejection not sent.*account kept its previous state/);
    });

    it('a revert that fails for good after the rejection was sent: the entry says so, the workflow goes on', async () => {
      const refusing = new ActivityStubs().on('revertUpdate', async () => {
        throw refused('the partner refused the revert');
      });
      const t = await rejectedWhileApproving(async () => ({ state: 'rejected' }), refusing);
      const v = await t.settled('active', (s) => s.history.at(-1)?.result === 'rejected');
      assert.match(
        v.history.at(-1)?.outcome ?? '',
        /its revert failed for good \(.*the partner refused the revert.*\): the account may keep the update/,
      );
      assert.match(v.lastError ?? '', /revert of the update rejected by an operator failed for good/);
      assert.equal((await t.handle.describe()).status.name, 'RUNNING');
    });
  });
});
