import assert from 'node:assert/strict';
import { TALKDESK_FAILURE_TYPES } from '../../src/talkdesk/failures';
import { CREDENTIALS_REFUSED, PARTNER_REFUSED } from '../../workflows/activity-types';
import { rejectionFor } from '../../workflows/installation/common';
import { StepFailedError } from '../../workflows/steps';

/** What Talkdesk is told when a phase is rejected (the customer's admin reads it) and what operators keep. */
describe('rejection text (workflows/installation/common.ts rejectionFor)', () => {
  const refused = (message: string) => new StepFailedError('provision the partner account', PARTNER_REFUSED, message);

  it("a partner's own reason is told as it is", () => {
    assert.deepEqual(rejectionFor('Install failed', refused('Plan not available in this region')), {
      reason: 'Install failed: Plan not available in this region',
      told: 'Install failed: Plan not available in this region',
    });
  });

  it('a refusal without a reason keeps its HTTP status for operators, not for the customer', () => {
    assert.deepEqual(rejectionFor('Install failed', refused('The partner refused the request (HTTP 401)')), {
      reason: 'Install failed: The partner refused the request (HTTP 401)',
      told: 'Install failed: The partner refused the request',
    });
  });

  it("a partner's own reason that ends in a status is told whole", () => {
    assert.equal(
      rejectionFor('Install failed', refused('Seat limit reached (HTTP 402)')).told,
      'Install failed: Seat limit reached (HTTP 402)',
    );
  });

  it('any other failure is told by its type alone', () => {
    const r = rejectionFor(
      'Update failed',
      new StepFailedError('apply', 'TalkdeskBadRequest', 'Talkdesk refused the request (400): check X'),
    );
    assert.equal(r.reason, 'Update failed: Talkdesk refused the request (400): check X');
    assert.equal(r.told, "Update failed: the app's service could not complete it (TalkdeskBadRequest). Contact the app's provider.");
  });
});

describe('failure types the workflow names (workflows/activity-types.ts)', () => {
  it('CREDENTIALS_REFUSED names failure types the Talkdesk client produces', () => {
    assert.deepEqual([...CREDENTIALS_REFUSED], [TALKDESK_FAILURE_TYPES.invalidClient, TALKDESK_FAILURE_TYPES.unauthorized]);
  });
});
