import assert from 'node:assert/strict';
import { ServiceError } from '@temporalio/client';
import { repairFailedForNow, TalkdeskPause } from '../../activities/reconcile-pacing';
import { TalkdeskHttpError, TalkdeskUnavailableError } from '../../src/talkdesk/errors';

/** Reconciliation's pause after Talkdesk's 429: what a call left to the next pass says. */
describe('reconciliation pause after a 429', () => {
  const rateLimited = () => new TalkdeskHttpError({ status: 429, endpoint: 'GET /apps/app-1/installations/inst-1', retryAfterMs: 30_000 });

  it('lets calls through until Talkdesk answers 429, and not a failure of another kind', () => {
    const pause = new TalkdeskPause();
    pause.check();
    pause.note(new TalkdeskHttpError({ status: 503, endpoint: 'GET /apps' }));
    pause.note(new Error('socket hang up'));
    assert.doesNotThrow(() => pause.check('approval'));
  });

  it("a call Talkdesk did not answer (timeout, connection failure) pauses that host's reads, not another region's", () => {
    const pause = new TalkdeskPause();
    const eu = 'https://api.talkdeskapp.eu';
    const us = 'https://api.talkdeskapp.com';
    pause.note(new TalkdeskUnavailableError({ endpoint: 'GET /apps/app-1/installations/inst-1', code: 'ETIMEDOUT' }), eu);
    assert.throws(
      () => pause.check('read', `${eu}/`),
      (err: Error & { type?: string }) =>
        err.type === 'TalkdeskUnavailable' &&
        /^not read at Talkdesk: it did not answer a call to this host \(timeout or connection failure\); paused for (29|30) s more; read next pass$/.test(
          err.message,
        ),
    );
    assert.throws(() => pause.check('approval', eu), /approval not sent again: Talkdesk did not answer/);
    assert.doesNotThrow(() => pause.check('read', us), 'another region is read');
  });

  it('names a read it leaves to the next pass as a read', () => {
    const pause = new TalkdeskPause();
    pause.note(rateLimited());
    assert.throws(
      () => pause.check(),
      (err: Error) => /^not read at Talkdesk: it asked to slow down \(429\) for \d+ s more; read next pass$/.test(err.message),
    );
  });

  it('honours the whole of a long Retry-After (nothing waits for it: reads due meanwhile go to the next pass)', () => {
    const pause = new TalkdeskPause();
    pause.note(new TalkdeskHttpError({ status: 429, endpoint: 'GET /apps/app-1/installations/inst-1', retryAfterMs: 600_000 }));
    assert.throws(() => pause.check(), /asked to slow down \(429\) for (599|600) s more/);
  });

  it("a 429 pauses that host's reads and re-approvals, not another region's", () => {
    const pause = new TalkdeskPause();
    const eu = 'https://api.talkdeskapp.eu';
    pause.note(new TalkdeskHttpError({ status: 429, endpoint: 'GET /apps/app-1/installations/inst-1', retryAfterMs: 3_600_000 }), eu);
    assert.throws(() => pause.check('read', `${eu}/`), /asked to slow down \(429\) for (3599|3600) s more/);
    assert.throws(() => pause.check('approval', eu), /approval not sent again: Talkdesk asked to slow down/);
    assert.doesNotThrow(() => pause.check('read', 'https://api.talkdeskapp.com'), 'another region is read');
    assert.doesNotThrow(() => pause.check('approval', 'https://api.talkdeskapp.com'), 'and its approvals sent again');
  });

  it('names an approval sent again (its read done) as the approval that waits, not a read', () => {
    const pause = new TalkdeskPause();
    pause.note(rateLimited());
    assert.throws(
      () => pause.check('approval'),
      (err: Error) => /^approval not sent again: Talkdesk asked to slow down \(429\) for \d+ s more; sent next pass$/.test(err.message),
    );
  });

  it('a repair failed after the read is due next pass only if a later pass may get it through', () => {
    const temporal = (code: number) =>
      Object.assign(new ServiceError('signal failed'), { cause: Object.assign(new Error('grpc'), { code }) });
    const talkdesk = (status: number) => new TalkdeskHttpError({ status, endpoint: 'PUT /apps/app-1/installations/inst-1/state' });
    const pause = new TalkdeskPause();
    pause.note(rateLimited());
    const paused = (() => {
      try {
        pause.check('approval');
      } catch (err) {
        return err;
      }
    })();
    const cases: [string, unknown, boolean][] = [
      ['Temporal unavailable', temporal(14), true],
      ['Temporal deadline exceeded', temporal(4), true],
      ['Temporal rate limit', temporal(8), true],
      ['Temporal refusing the signal', temporal(3), false],
      ['Talkdesk 503', talkdesk(503), true],
      ['Talkdesk 429', talkdesk(429), true],
      ["the pass's pause", paused, true],
      ['Talkdesk 403', talkdesk(403), false],
      ['Talkdesk 422', talkdesk(422), false],
    ];
    for (const [what, err, due] of cases) assert.equal(repairFailedForNow(err), due, what);
  });
});
