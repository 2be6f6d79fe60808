import assert from 'node:assert/strict';
import { alreadyConcluded, decideStateCall } from '../../src/talkdesk/concluded';
import { KNOWN_INSTALLATION_STATES } from '../../src/talkdesk/schemas';

describe('talkdesk/alreadyConcluded: a retried state call is not sent when Talkdesk already shows its outcome', () => {
  const approve = (concludes: 'install' | 'update' | 'uninstall') => ({ state: 'approve' as const, concludes });

  it('an install is concluded once Talkdesk shows it completed, or pending (an update or uninstall opened since)', () => {
    assert.equal(alreadyConcluded(approve('install'), { state: 'completed' }), true);
    // The approval landed, its answer was lost, and the administrator changed licences (or uninstalled) meanwhile:
    // undoing the install would delete the account of an installation Talkdesk shows installed.
    assert.equal(alreadyConcluded(approve('install'), { state: 'pending' }), true);
    assert.equal(alreadyConcluded({ state: 'reject', concludes: 'install' }, { state: 'pending' }), false);
    for (const state of ['installing', 'timeout', 'failed', 'rejected', 'revoked', 'suspended', 'something-new']) {
      assert.equal(alreadyConcluded(approve('install'), { state }), false, state);
    }
  });

  it('an update is concluded once Talkdesk shows it completed, whatever the clocks say', () => {
    assert.equal(alreadyConcluded(approve('update'), { state: 'completed', updated_at: '2026-11-20T10:00:05Z' }), true);
    // The event's created_at can be after the completion (rounded up to the second): still concluded.
    assert.equal(alreadyConcluded(approve('update'), { state: 'completed', updated_at: '2026-11-20T09:59:59.500Z' }), true);
    assert.equal(alreadyConcluded(approve('update'), { state: 'completed' }), true);
    for (const state of ['pending', 'installing', 'timeout', 'rejected', 'revoked']) {
      assert.equal(alreadyConcluded(approve('update'), { state, updated_at: '2026-11-20T10:00:05Z' }), false, state);
    }
  });

  it('a late update (older than one applied) is concluded by completed or pending, and never sent', () => {
    const late = { ...approve('update'), late: true };
    // The newer update's approval concluded what was open: pending now is an operation opened since.
    assert.equal(decideStateCall(late, { state: 'pending' }), 'concluded');
    assert.equal(decideStateCall(late, { state: 'completed' }), 'concluded');
    for (const state of ['installing', 'timeout', 'rejected', 'revoked']) assert.equal(decideStateCall(late, { state }), 'skip', state);
    const lateReject = { state: 'reject' as const, concludes: 'update' as const, late: true };
    assert.equal(decideStateCall(lateReject, { state: 'pending' }), 'skip', 'a reject would reject the newer operation');
    assert.equal(decideStateCall(lateReject, { state: 'rejected' }), 'concluded');
    assert.equal(decideStateCall(approve('update'), { state: 'pending' }), 'send', 'an update in order is sent');
  });

  it('an uninstall is concluded when Talkdesk shows it revoked', () => {
    assert.equal(alreadyConcluded(approve('uninstall'), { state: 'revoked' }), true);
    assert.equal(alreadyConcluded(approve('uninstall'), { state: 'pending' }), false);
    assert.equal(alreadyConcluded(approve('uninstall'), { state: 'completed', updated_at: '2026-11-21T00:00:00Z' }), false);
  });

  it('a rejection is concluded when Talkdesk shows it rejected', () => {
    assert.equal(alreadyConcluded({ state: 'reject' }, { state: 'rejected' }), true);
    assert.equal(alreadyConcluded({ state: 'reject' }, { state: 'installing' }), false);
  });

  it('without the operation it concludes, an approval is always sent', () => {
    assert.equal(alreadyConcluded({ state: 'approve' }, { state: 'completed', updated_at: '2026-11-21T00:00:00Z' }), false);
  });
});

describe('talkdesk/decideStateCall: only the phase that owns the open operation sends its state call', () => {
  // The documented states, the guide's prose names for an open update and uninstall, and one Talkdesk may add.
  const ALL = [...KNOWN_INSTALLATION_STATES, 'updating', 'uninstalled', 'something-new'];
  const expect = (intent: Parameters<typeof decideStateCall>[0], send: string[], concluded: string[]) => {
    for (const state of ALL) {
      const want = send.includes(state) ? 'send' : concluded.includes(state) ? 'concluded' : 'skip';
      assert.equal(decideStateCall(intent, { state }), want, `${intent.state}:${intent.concludes ?? '-'} on ${state}`);
    }
  };

  it('install: approve or reject only while installing', () => {
    // An update or uninstall open since, by either name: the approval landed.
    expect({ state: 'approve', concludes: 'install' }, ['installing'], ['completed', 'pending', 'updating', 'uninstalled']);
    expect({ state: 'reject', concludes: 'install' }, ['installing'], ['rejected']);
  });

  it('update and uninstall: only while pending (or the prose name of their own operation); never an install still installing', () => {
    expect({ state: 'approve', concludes: 'update' }, ['pending', 'updating'], ['completed']);
    expect({ state: 'reject', concludes: 'update' }, ['pending', 'updating'], ['rejected']);
    // Not an update's approval for an open uninstall, nor the other way round: it would conclude the other operation.
    expect({ state: 'approve', concludes: 'uninstall' }, ['pending', 'uninstalled'], ['revoked']);
  });
});
