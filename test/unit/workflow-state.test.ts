import assert from 'node:assert/strict';
import type { LifecycleEvent } from '../../workflows/definitions';
import { endsEarlierLife, lateRule } from '../../workflows/installation/late';
import {
  enqueue,
  initialState,
  isSuperseded,
  markApplied,
  markHandled,
  markKindApplied,
  newerOperationQueued,
  restoreHandled,
} from '../../workflows/state';

const at = '2026-11-21T10:00:00Z';
const ev = (eventId: string, type: LifecycleEvent['type'], createdAt = at): LifecycleEvent => ({
  eventId,
  type,
  createdAt,
  installationId: 'inst1',
  appId: 'app1',
  facts: {},
  links: {},
});

describe('workflow state: which events a run handles', () => {
  it('queues by created_at, lifecycle order at equal times, and refuses a repeated id', () => {
    const s = initialState('inst1');
    assert.equal(enqueue(s, ev('u', 'app.uninstalled')), true);
    assert.equal(enqueue(s, ev('i', 'app.installed')), true);
    assert.equal(enqueue(s, ev('early', 'app.updated', '2026-11-21T09:59:59Z')), true);
    assert.equal(enqueue(s, ev('i', 'app.installed')), false);
    assert.deepEqual(
      s.queue.map((e) => e.eventId),
      ['early', 'i', 'u'],
    );
  });

  it('supersedes only events older than one applied: an equal created_at is not older', () => {
    const s = initialState('inst1');
    markApplied(s, ev('i', 'app.installed'));
    assert.equal(isSuperseded(s, ev('old', 'app.updated', '2026-11-21T09:59:59Z')), true);
    // Why a run needs the handled ids as well: created_at alone cannot tell a repeat from a new event.
    assert.equal(isSuperseded(s, ev('u', 'app.uninstalled')), false);
  });

  it('a new run drops queued events an earlier run finished, and ignores their later deliveries', () => {
    const s = initialState('inst1');
    enqueue(s, ev('u', 'app.uninstalled'));
    enqueue(s, ev('new', 'app.installed', '2026-11-21T11:00:00Z'));
    restoreHandled(s, ['i', 'u']);
    assert.deepEqual(
      s.queue.map((e) => e.eventId),
      ['new'],
    );
    assert.deepEqual(s.ignoredEvents, [{ eventId: 'u', reason: 'already handled by an earlier run' }]);
    assert.equal(enqueue(s, ev('i', 'app.installed')), false, 'a later delivery counts as a duplicate');
    assert.deepEqual(s.handledEventIds, ['i', 'u']);
  });

  it('keeps the last 20 handled ids, each once', () => {
    const s = initialState('inst1');
    for (let n = 0; n < 25; n += 1) markHandled(s, `e${n}`);
    markHandled(s, 'e24');
    assert.equal(s.handledEventIds?.length, 20);
    assert.equal(s.handledEventIds?.[0], 'e5');
    assert.equal(s.handledEventIds?.at(-1), 'e24');
  });

  it('an uninstall older than an install applied or running ended an earlier life (a same-id reinstall)', () => {
    const s = initialState('inst1');
    markKindApplied(s, 'install', '2026-11-21T10:00:00Z');
    const stale = ev('u-old', 'app.uninstalled', '2026-11-21T09:00:00Z');
    const current = ev('u-new', 'app.uninstalled', '2026-11-21T11:00:00Z');
    assert.equal(lateRule(s, stale), 'uninstall-over');
    assert.equal(lateRule(s, current), 'in-order');
    assert.equal(endsEarlierLife(s, undefined, stale), true);
    assert.equal(endsEarlierLife(s, undefined, current), false);
    const reinstalling = ev('i-new', 'app.installed', '2026-11-21T12:00:00Z');
    assert.equal(endsEarlierLife(s, reinstalling, current), true, 'older than the install running');
    assert.equal(endsEarlierLife(s, ev('upd', 'app.updated', '2026-11-21T12:00:00Z'), current), false, 'an update running is no reinstall');
    assert.equal(endsEarlierLife(s, reinstalling, ev('i', 'app.installed', '2026-11-21T09:00:00Z')), false, 'only an uninstall');
  });

  it('knows when a newer update or uninstall is queued behind the update being applied (its state call then reads first and sends nothing on pending)', () => {
    const s = initialState('inst1');
    const applying = ev('u1', 'app.updated');
    assert.equal(newerOperationQueued(s, applying), false);
    enqueue(s, ev('old', 'app.updated', '2026-11-21T09:59:59Z'));
    enqueue(s, ev('trial', 'app.trial_started', '2026-11-21T10:05:00Z'));
    assert.equal(newerOperationQueued(s, applying), false, 'an older update, or a trial event, opens nothing newer');
    enqueue(s, ev('u2', 'app.updated', at));
    assert.equal(newerOperationQueued(s, applying), true, 'one of the same second, delivered behind it: newer');
    assert.equal(newerOperationQueued(s, ev('i', 'app.installed')), false, 'only an update is judged so');
    assert.equal(newerOperationQueued(s, undefined), false);
    const t = initialState('inst1');
    enqueue(t, ev('un', 'app.uninstalled', '2026-11-21T10:10:00Z'));
    assert.equal(newerOperationQueued(t, applying), true);
  });
});
