import assert from 'node:assert/strict';
import { planPass, plannedReads, RESUMED_RUNS_PER_PASS } from '../../activities/reconcile-plan';
import { loadEnv } from '../../src/config/env';
import { generateKeySpec } from '../../src/crypto/secrets';
import { ConfigError } from '../../src/errors';
import type { InstallationRecord } from '../../src/store/installations';

const HOUR = 3_600_000;
const now = new Date('2026-12-02T00:00:00Z');
const rec = (id: string, phase: InstallationRecord['phase'], hoursAgo?: number) => ({
  _id: id,
  phase,
  talkdeskCheckedAt: hoursAgo === undefined ? undefined : new Date(now.getTime() - hoursAgo * HOUR),
});
const options = { pageSize: 3, activeCheckMs: 24 * HOUR, callsPerMinute: 2, budgetMinutes: 2 };
/** A record in `phase` last read `hoursAgo`, its last read tried (unanswered) `triedHoursAgo`. */
const triedAs = (phase: InstallationRecord['phase']) => (id: string, hoursAgo: number, triedHoursAgo: number) => ({
  ...rec(id, phase, hoursAgo),
  triedAt: new Date(now.getTime() - triedHoursAgo * HOUR),
});

describe('planning a reconciliation pass', () => {
  it('visits every installation; reads at Talkdesk those in progress, then the due ones least recently read, in minute slots', () => {
    const plan = planPass(
      [
        rec('a-fresh', 'active', 1),
        rec('b-due', 'active', 30),
        rec('c-updating', 'updating', 1),
        rec('d-new', 'new'),
        rec('e-never', 'active'),
        rec('f-ended-due', 'uninstalled', 25),
        rec('g-due', 'active', 26),
      ],
      now,
      options,
    );
    const entries = plan.pages.flat();
    assert.deepEqual(
      plan.pages.map((p) => p.length),
      [3, 3, 1],
    );
    assert.equal(new Set(entries.map((e) => e.id)).size, 7, 'every installation is visited once');
    // Budget 2 a minute × 2 minutes = 4 reads; five wanted them.
    assert.deepEqual(
      entries.filter((e) => e.slot !== undefined).map((e) => [e.id, e.slot]),
      [
        ['c-updating', 0],
        ['e-never', 0],
        ['b-due', 1],
        ['g-due', 1],
      ],
    );
    assert.deepEqual([plan.talkdeskPlanned, plan.talkdeskDeferred], [4, 1]);
    assert.deepEqual(
      entries.filter((e) => e.slot === undefined).map((e) => e.id),
      ['f-ended-due', 'a-fresh', 'd-new'],
    );
  });

  it('keeps a tenth of the reads for due installations when those in progress would take them all (DUE_MIN_SHARE)', () => {
    const o = { pageSize: 100, activeCheckMs: 24 * HOUR, callsPerMinute: 10, budgetMinutes: 1 };
    const inProgress = Array.from({ length: 12 }, (_, i) => rec(`p-${String(i).padStart(2, '0')}`, 'installing', 12 - i));
    const due = [rec('due-newer', 'active', 30), rec('due-oldest', 'active', 40)];
    const plan = planPass([...inProgress, ...due], now, o);
    const read = plan.pages.flat().filter((e) => e.slot !== undefined);
    // Before: the twelve in progress took all ten reads, pass after pass, and no due one was ever read.
    assert.deepEqual(
      read.map((e) => e.id),
      [...inProgress.slice(0, 9).map((r) => r._id), 'due-oldest'],
      'nine in progress (least recently read first), then the oldest due one',
    );
    assert.deepEqual([plan.talkdeskPlanned, plan.talkdeskDeferred], [10, 4]);
    // Nothing is kept back when the due ones fit beside those in progress.
    const roomy = planPass([...inProgress.slice(0, 5), ...due], now, o);
    assert.equal(roomy.pages.flat().filter((e) => e.slot !== undefined).length, 7);
  });

  it('defers an overflow too small to open another minute, and puts later minutes last so their wait holds no visits', () => {
    const o = { pageSize: 100, activeCheckMs: 24 * HOUR, callsPerMinute: 120, budgetMinutes: 7 };
    const due = (n: number, from = 0) =>
      Array.from({ length: n }, (_, i) => rec(`due-${String(from + i).padStart(4, '0')}`, 'active', 25 + i / n));
    const fresh = Array.from({ length: 250 }, (_, i) => rec(`fresh-${i}`, 'active', 1));

    // 121 due: one read would hold the pass a minute; it waits for the next pass instead, first there.
    const small = planPass([...due(121), ...fresh], now, o);
    assert.deepEqual([small.talkdeskPlanned, small.talkdeskDeferred], [120, 1]);
    const smallSlots = small.pages.flat().filter((e) => e.slot !== undefined);
    assert.ok(smallSlots.every((e) => e.slot === 0));
    assert.equal(smallSlots.length, 120);
    const deferred = small.pages.flat().find((e) => e.id.startsWith('due-') && e.slot === undefined);
    assert.equal(deferred?.id, 'due-0000', 'the most recently read of the due ones (25 hours ago) is the one deferred');

    // 200 due: 80 is more than half a minute's reads: the second minute is used, in the last pages.
    const big = planPass([...due(200), ...fresh], now, o);
    assert.deepEqual([big.talkdeskPlanned, big.talkdeskDeferred], [200, 0]);
    const slots = big.pages.map((p) => p.map((e) => e.slot ?? -1));
    assert.deepEqual(
      slots.map((p) => [Math.min(...p), Math.max(...p)]),
      [
        [0, 0],
        [-1, 0],
        [-1, -1],
        [-1, 1],
        [1, 1],
      ],
      'minute 0 first, then the visits, then minute 1',
    );
    assert.equal(big.pages.flat().filter((e) => e.slot === 1).length, 80);
    const firstMinute = big.pages.flat().filter((e) => e.slot === 0);
    assert.ok(
      firstMinute.every((e) => Number(e.id.slice(4)) >= 80),
      'the least recently read go in the first minute',
    );

    // Never more than callsPerMinute in a minute, nor past the budget; nothing planned is lost.
    for (const wanted of [0, 1, 59, 120, 121, 179, 180, 181, 840, 841, 2000]) {
      const reads = plannedReads(wanted, o);
      assert.ok(reads <= Math.min(wanted, 840), `${wanted}: ${reads}`);
      assert.ok(reads >= Math.min(wanted, 120), `${wanted}: the first minute is always used (${reads})`);
      assert.ok(wanted - reads < 60 || reads === 840, `${wanted}: only a small overflow or past the budget is deferred (${reads})`);
    }
    assert.deepEqual(
      [plannedReads(3, { callsPerMinute: 2, budgetMinutes: 2 }), plannedReads(5, { callsPerMinute: 2, budgetMinutes: 2 })],
      [3, 4],
    );
  });

  it('reads every installation in progress while the budget has room, even for a few reads past a minute; a single read goes to one', () => {
    const o = { pageSize: 500, activeCheckMs: 24 * HOUR, callsPerMinute: 120, budgetMinutes: 7 };
    const inProgress = (n: number) => Array.from({ length: n }, (_, i) => rec(`p-${String(i).padStart(4, '0')}`, 'updating', 1));
    const due = (n: number) => Array.from({ length: n }, (_, i) => rec(`due-${i}`, 'active', 30 + i));
    const slotted = (plan: ReturnType<typeof planPass>) => plan.pages.flat().filter((e) => e.slot !== undefined);
    // Before: the ten past the first minute were deferred (too few to open another), though 840 reads were allowed.
    const alone = planPass(inProgress(130), now, o);
    assert.deepEqual([alone.talkdeskPlanned, alone.talkdeskDeferred], [130, 0]);
    const beside = planPass([...inProgress(130), ...due(5)], now, o);
    assert.deepEqual([beside.talkdeskPlanned, beside.talkdeskDeferred], [135, 0]);
    assert.equal(slotted(beside).filter((e) => e.id.startsWith('p-')).length, 130);
    // The second minute open for them, the due ones behind take it too: 160 read, none deferred.
    const more = planPass([...inProgress(130), ...due(30)], now, o);
    assert.deepEqual([more.talkdeskPlanned, more.talkdeskDeferred], [160, 0]);
    // Due ones alone still wait for the next pass rather than hold this one a minute for a few reads.
    assert.deepEqual([planPass(due(125), now, o).talkdeskPlanned, planPass(due(125), now, o).talkdeskDeferred], [120, 5]);
    // One read a pass (the smallest budget the settings allow): an installation in progress has it, not a due one.
    const one = planPass([...inProgress(2), ...due(3)], now, { ...o, callsPerMinute: 1, budgetMinutes: 1 });
    assert.deepEqual(
      slotted(one).map((e) => e.id),
      ['p-0000'],
    );
  });

  it('plans no read for an ended installation its last visit found nothing to read with; an ended one not yet found so is due', () => {
    const plan = planPass(
      [
        { ...rec('a-ended-nothing', 'uninstalled', 100), nothingToRead: true },
        rec('b-active-due', 'active', 30),
        rec('c-ended-due', 'rejected', 40),
        // Marked so in an earlier life, read again since it was reinstalled: live, so due as any other.
        { ...rec('d-active-marked', 'active', 50), nothingToRead: true },
      ],
      now,
      { ...options, callsPerMinute: 5, budgetMinutes: 1 },
    );
    const slotted = plan.pages.flat().filter((e) => e.slot !== undefined);
    assert.deepEqual(slotted.map((e) => e.id).sort(), ['b-active-due', 'c-ended-due', 'd-active-marked']);
    assert.equal(plan.talkdeskPlanned, 3);
    assert.equal(new Set(plan.pages.flat().map((e) => e.id)).size, 4, 'still visited');
  });

  it('carries the mark of a run resumed from its record (resumed_runs) on its entry, read at Talkdesk or not', () => {
    const resumedAt = new Date(now.getTime() - 60_000);
    const plan = planPass(
      [{ ...rec('a-resumed', 'active', 1), resumedAt }, rec('b-plain', 'active', 1), { ...rec('c-due', 'active', 30), resumedAt }],
      now,
      options,
    );
    const entries = plan.pages.flat();
    assert.deepEqual(
      entries.map((e) => [e.id, e.slot, e.resumedAt]),
      [
        ['c-due', 0, resumedAt],
        ['a-resumed', undefined, resumedAt],
        ['b-plain', undefined, undefined],
      ],
    );
    assert.ok(!('resumedAt' in (entries[2] ?? {})), 'no field on an entry without a mark');
    // The oldest RESUMED_RUNS_PER_PASS a pass.
    const many = Array.from({ length: RESUMED_RUNS_PER_PASS + 2 }, (_, i) => ({
      ...rec(`r${i}`, 'active', 1),
      resumedAt: new Date(now.getTime() - (i + 1) * 1_000),
    }));
    const carried = planPass(many, now, { ...options, pageSize: 500 })
      .pages.flat()
      .filter((e) => e.resumedAt);
    assert.equal(carried.length, RESUMED_RUNS_PER_PASS);
    assert.ok(!carried.some((e) => e.id === 'r0' || e.id === 'r1'), 'the two newest wait');
  });

  it('orders installations in progress by their last attempt too: a region down with a backlog does not take every in-progress read', () => {
    const o = { pageSize: 100, activeCheckMs: 24 * HOUR, callsPerMinute: 2, budgetMinutes: 1 };
    const tried = triedAs('installing');
    const plan = planPass(
      [
        // Region A's host paused: its reads went unanswered last pass (15 minutes ago), their checks as old as the outage.
        tried('a-region-down-1', 5, 0.25),
        tried('a-region-down-2', 5, 0.25),
        tried('a-region-down-3', 5, 0.25),
        // Region B's, deferred last pass (region A's took every read), read the pass before.
        rec('b-other-region-1', 'updating', 0.5),
        rec('b-other-region-2', 'installing', 0.55),
      ],
      now,
      o,
    );
    assert.deepEqual(
      plan.pages
        .flat()
        .filter((e) => e.slot !== undefined)
        .map((e) => e.id),
      ['b-other-region-2', 'b-other-region-1'],
      "the other region's installations in progress are read",
    );
    assert.deepEqual([plan.talkdeskPlanned, plan.talkdeskDeferred], [2, 3]);
  });

  it('orders due installations by their last attempt: one whose read went unanswered goes behind those attempted before it', () => {
    const o = { pageSize: 100, activeCheckMs: 24 * HOUR, callsPerMinute: 4, budgetMinutes: 1 };
    const tried = triedAs('active');
    const plan = planPass(
      [
        tried('a-host-down-oldest', 40, 0.25),
        tried('b-host-down', 39, 0.5),
        tried('c-tried-before-its-check', 25, 30), // a try older than the last check counts for nothing
        rec('d-due', 'active', 24.5),
        rec('e-due', 'active', 26),
        // Tried a day and more ago, deferred since (due ones beyond the budget): back in turn, not behind every untried one.
        tried('f-tried-long-ago', 60, 30),
      ],
      now,
      o,
    );
    assert.deepEqual(
      plan.pages.flat().map((e) => [e.id, e.slot]),
      [
        ['f-tried-long-ago', 0],
        ['e-due', 0],
        ['c-tried-before-its-check', 0],
        ['d-due', 0],
        ['b-host-down', undefined],
        ['a-host-down-oldest', undefined],
      ],
    );
    assert.deepEqual([plan.talkdeskPlanned, plan.talkdeskDeferred], [4, 2]);
  });

  it('takes its window and budget from the environment, with documented defaults, and refuses nonsense', () => {
    const base = {
      TALKDESK_APP_ID: 'app1',
      TALKDESK_WEBHOOK_SECRET: 'a-webhook-secret-of-some-length',
      SECRETS_KEY: generateKeySpec('k1'),
    };
    const env = loadEnv(base);
    assert.deepEqual([env.RECONCILE_ACTIVE_CHECK_HOURS, env.RECONCILE_TALKDESK_CALLS_PER_MINUTE], [24, 120]);
    const set = loadEnv({ ...base, RECONCILE_ACTIVE_CHECK_HOURS: '6', RECONCILE_TALKDESK_CALLS_PER_MINUTE: '30' });
    assert.deepEqual([set.RECONCILE_ACTIVE_CHECK_HOURS, set.RECONCILE_TALKDESK_CALLS_PER_MINUTE], [6, 30]);
    assert.throws(() => loadEnv({ ...base, RECONCILE_ACTIVE_CHECK_HOURS: '0' }), ConfigError);
    assert.throws(() => loadEnv({ ...base, RECONCILE_TALKDESK_CALLS_PER_MINUTE: '1.5' }), ConfigError);
  });
});
