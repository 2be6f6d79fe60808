import assert from 'node:assert/strict';
import { reconcileSignal, rejectUpdate } from '../../workflows/definitions';
import { ActivityStubs, deferred, refusal, refused, unavailable, useInstallationUnderTest } from './harness';

/**
 * An operator's `reject` while an update that has already ended is being concluded (reverted, its record written) is
 * refused: accepted, it would send a rejection of its own after the phase ended, unread, which concludes whatever
 * Talkdesk opened since (an uninstall). Validator only (no command).
 */
describe('installation workflow: a reject while an ended update is concluded is refused', function () {
  this.timeout(60_000);
  const { start } = useInstallationUnderTest();

  /** An installed installation whose update's revert waits for the test; `approve` answers the update's approval. */
  async function updateReverting(approve: () => Promise<{ state: string; notSent?: boolean }>, apply?: () => Promise<never>) {
    const inRevert = deferred();
    const release = deferred();
    let stubs = new ActivityStubs()
      .on('setInstallationState', async (i) => {
        if (i.state === 'approve' && i.concludes === 'update') return approve();
        return { state: i.state === 'approve' ? 'completed' : 'rejected' };
      })
      .on('revertUpdate', async () => {
        inRevert.resolve();
        await release.promise;
      });
    if (apply) stubs = stubs.on('applyUpdate', apply);
    const t = await start(stubs);
    await t.send(t.event('app.installed'));
    await t.settled('active');
    await t.send(t.event('app.updated', { facts: { users: { adding: ['u1'], removing: [] } } }));
    return { t, inRevert: inRevert.promise, release: () => release.resolve() };
  }

  const rejections = (t: { stubs: ActivityStubs }) => t.stubs.of('setInstallationState').filter((c) => c.state === 'reject');

  it('an update Talkdesk shows not open, while it is reverted: refused, nothing sent, the installation stays active', async () => {
    const { t, inRevert, release } = await updateReverting(async () => ({ state: 'timeout', notSent: true }));
    await inRevert;
    const why = await refusal(t.handle.executeUpdate(rejectUpdate, { args: [{ reason: 'too late' }] }));
    assert.match(why, /update has ended \(not open at Talkdesk\)/);
    release();
    const v = await t.settled('active', (s) => s.history.at(-1)?.phase === 'updating' && s.history.at(-1)?.endedAt !== undefined);
    assert.equal(v.history.at(-1)?.result, 'not-open');
    assert.deepEqual(rejections(t), [], 'no rejection sent');
    assert.deepEqual(v.operatorActions, []);
  });

  it('an update reconciliation ended (Talkdesk timed it out), while it is reverted: refused, nothing sent', async () => {
    const { t, inRevert, release } = await updateReverting(async () => {
      throw unavailable();
    });
    await t.until('the update retrying its approval', (v) => v.phase === 'updating' && v.lastError !== undefined);
    await t.handle.signal(reconcileSignal, { action: 'endUpdate', talkdeskState: 'timeout' });
    await inRevert;
    const why = await refusal(t.handle.executeUpdate(rejectUpdate, { args: [{ reason: 'too late' }] }));
    assert.match(why, /update has ended \(stopped by Talkdesk reporting timeout\)/);
    release();
    const v = await t.settled('active', (s) => s.history.at(-1)?.phase === 'updating' && s.history.at(-1)?.endedAt !== undefined);
    assert.equal(v.history.at(-1)?.result, 'interrupted');
    assert.deepEqual(rejections(t), [], 'no rejection sent');
  });

  it('a failed update, while it is reverted before its own rejection: refused; that rejection alone is sent', async () => {
    const { t, inRevert, release } = await updateReverting(
      async () => ({ state: 'completed' }),
      async () => {
        throw refused('the partner refused the plan');
      },
    );
    await inRevert;
    const why = await refusal(t.handle.executeUpdate(rejectUpdate, { args: [{ reason: 'plan not allowed' }] }));
    assert.match(why, /update has ended \(failed: its rejection follows\)/);
    release();
    const v = await t.settled('active', (s) => s.history.at(-1)?.phase === 'updating' && s.history.at(-1)?.endedAt !== undefined);
    assert.equal(v.history.at(-1)?.result, 'rejected');
    const sent = rejections(t).map((c) => String(c.reason));
    assert.equal(sent.length, 1, sent.join(' | '));
    assert.match(sent[0] ?? '', /^Update failed: /, "its own rejection, not the operator's");
    assert.deepEqual(v.operatorActions, []);
  });
});
