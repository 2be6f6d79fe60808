import assert from 'node:assert/strict';
import type { UserMappingRecord } from '../../src/store/accounts';
import type { InstallationRecord } from '../../src/store/installations';
import { endedBy } from '../../src/web/launch/ended-by';

describe('launch: what Talkdesk said while a sign-in ran (endedBy)', () => {
  const t = (s: number) => new Date(Date.UTC(2026, 11, 4, 12, 0, s));
  const mapping = { updatedAt: t(10) } as UserMappingRecord;
  const rec = { lastEventAt: t(5).toISOString() } as InstallationRecord;
  const o = { began: t(20), mapping, rec, facts: { installationId: 'i1' } };
  const reason = (marks: Parameters<typeof endedBy>[0], over: Partial<typeof o> = {}) => {
    const f = endedBy(marks, { ...o, ...over });
    return f && `${f.reason}/${f.facts.detail}`;
  };

  it('no mark, or marks older than what they would end: the sign-in stands', () => {
    assert.equal(reason({}), undefined);
    assert.equal(reason({ loggedOutAt: t(19), removedAt: t(9), uninstalledAt: t(4) }), undefined);
  });

  it('a logout since the sign-in began, a removal since the mapping was written, an uninstall newer than the last applied event', () => {
    assert.equal(reason({ loggedOutAt: t(20) }), 'signed_out/user_logout_during_sign_in');
    assert.equal(reason({ removedAt: t(11) }), 'not_licensed/removal_pending');
    assert.equal(reason({ uninstalledAt: t(6) }), 'installation_inactive/uninstall_pending');
    assert.equal(reason({ uninstalledAt: t(5) }), 'installation_inactive/uninstall_pending', 'the same second counts');
    assert.equal(reason({ uninstalledAt: t(1) }, { rec: {} as InstallationRecord }), 'installation_inactive/uninstall_pending');
  });

  it('the user added back (mapping written since) or a reinstall applied (a newer event) outdates the mark', () => {
    assert.equal(reason({ removedAt: t(11) }, { mapping: { updatedAt: t(12) } as UserMappingRecord }), undefined);
    assert.equal(reason({ uninstalledAt: t(6) }, { rec: { lastEventAt: t(7).toISOString() } as InstallationRecord }), undefined);
    assert.equal(reason({ removedAt: t(11) }, { mapping: { updatedAt: t(12), factsAt: t(12) } as UserMappingRecord }), undefined);
  });

  it('a mapping written after the removal with facts older than it (an earlier update applied late) does not outdate the mark', () => {
    const late = { updatedAt: t(30), factsAt: t(8) } as UserMappingRecord;
    assert.equal(reason({ removedAt: t(11) }, { mapping: late }), 'not_licensed/removal_pending');
  });

  it('an add created before the removal but received after it (delivered out of order) does not outdate the mark', () => {
    const redelivered = { updatedAt: t(30), factsAt: t(30), factsEventAt: t(8) } as UserMappingRecord;
    assert.equal(reason({ removedAt: t(11), removalEventAt: t(9) }, { mapping: redelivered }), 'not_licensed/removal_pending');
    // Re-added in the same second as the removal (created_at has whole seconds), received after it: the add stands.
    const sameSecond = { updatedAt: t(30), factsAt: t(12), factsEventAt: t(9) } as UserMappingRecord;
    assert.equal(reason({ removedAt: t(11), removalEventAt: t(9) }, { mapping: sameSecond }), undefined);
  });
});
