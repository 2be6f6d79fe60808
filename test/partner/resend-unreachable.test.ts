import assert from 'node:assert/strict';
import { MockActivityEnvironment } from '@temporalio/testing';
import { partnerResender } from '../../activities/reconcile-partner';
import { createLogger } from '../../src/logging/logger';
import { PartnerUnavailableError, PartnerUnreachableError } from '../../src/partner/errors';
import { useDirectPartner } from '../support/direct-partner';
import { eventually } from '../support/waits';

const SECRET = 'hook-secret-for-the-unreachable-partner';

/**
 * Reconciliation's resends of outstanding partner calls when the partner does not answer at all: each would wait out
 * PARTNER_HOOKS_TIMEOUT_MS in turn, past the page's timeout (its retries starting over), the Talkdesk checks behind them.
 */
describe('outstanding partner calls when the partner does not answer (resends stop, reconciliation pauses them)', function () {
  this.timeout(60_000);
  const env = useDirectPartner(SECRET, 300);
  const logger = createLogger({ level: 'silent' });

  /** Two calls kept outstanding for `inst`, oldest first. */
  async function twoOutstanding(inst: string): Promise<void> {
    for (const id of [`${inst}-deprovision`, `${inst}-undo`]) {
      const body = JSON.stringify({ id, type: 'account.deprovision', installation_id: inst, account_id: 'acct-x', data: {} });
      await env.h.store.partnerCalls.keepOutstanding({
        id,
        installationId: inst,
        type: 'account.deprovision',
        body,
        lastError: 'timed out',
      });
      await new Promise((r) => setTimeout(r, 5)); // distinct times: the order of the resends
    }
  }
  const attempts = async (inst: string) => (await env.h.store.partnerCalls.outstanding(inst)).map((c) => c.attempts ?? 0);

  it("a resend the partner does not answer stops the installation's others (left outstanding, not attempted); a 503 goes on", async () => {
    await twoOutstanding('inst-hung');
    const before = await attempts('inst-hung');
    env.server.fallback = { hangMs: 2_000 };
    try {
      await assert.rejects(env.partner.retryOutstanding('inst-hung'), PartnerUnreachableError);
    } finally {
      env.server.fallback = undefined;
    }
    await eventually('the hung hook seen', async () => env.server.hooks(undefined, 'inst-hung').length > 0 || undefined, 5_000);
    assert.equal(env.server.hooks(undefined, 'inst-hung').length, 1, 'the second not sent');
    assert.deepEqual(await attempts('inst-hung'), [before[0]! + 1, before[1]!], 'the first noted, the second untouched');

    await twoOutstanding('inst-503');
    env.server.fallback = { status: 503 };
    try {
      assert.equal(await env.partner.retryOutstanding('inst-503'), 2, 'an answer, if a refusal to work now: each sent');
    } finally {
      env.server.fallback = undefined;
    }
    assert.equal(env.server.hooks(undefined, 'inst-503').length, 2);
  });

  it("reconciliation's resends pause in the worker once the partner is unreachable, not for other failures", async () => {
    const asked: string[] = [];
    let fail: Error = new PartnerUnreachableError('the partner did not answer within 300 ms');
    const fake = {
      retryOutstanding: async (id: string) => {
        asked.push(id);
        throw fail;
      },
    };
    const env = new MockActivityEnvironment();
    const resend = partnerResender({ partner: fake as never, logger }, 400);
    await env.run(async () => {
      for (const id of ['a', 'b', 'c']) await resend(id); // not thrown: the visits go on to Talkdesk
    });
    assert.deepEqual(asked, ['a'], 'paused after the first');
    await eventually('the pause to end', async () => (await env.run(() => resend('d')), asked.length > 1 || undefined), 5_000);
    assert.deepEqual(asked, ['a', 'd']);
    // A partner that answers (503, 429): no pause; the visit reports it as before.
    fail = new PartnerUnavailableError('the partner answered 503');
    const again = partnerResender({ partner: fake as never, logger }, 400);
    await env.run(async () => {
      await assert.rejects(again('e'), PartnerUnavailableError);
      await assert.rejects(again('f'), PartnerUnavailableError);
    });
    assert.deepEqual(asked.slice(-2), ['e', 'f']);
  });
});
