import assert from 'node:assert/strict';
import { planPass } from '../../activities/reconcile-plan';
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
