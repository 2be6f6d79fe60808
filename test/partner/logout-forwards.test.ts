import assert from 'node:assert/strict';
import {
  LogoutForwarder,
  PartnerUnavailableError,
  PendingLogoutStore,
  type LogoutForwardOutcome,
  type UserLogoutRequest,
} from '../../src/partner';
import { connectDatabase, type Database } from '../../src/store';
import { captureLogger } from '../support/logs';
import { mongoUri, uniqueDbName } from '../support/servers';
import { eventually } from '../support/waits';

/** user.logout forwards that the partner could not take: kept in partner_logouts and sent again (src/partner/logout.ts). */
describe('partner: user.logout forwards kept until the partner takes them', function () {
  this.timeout(30_000);
  let db: Database;
  let store: PendingLogoutStore;
  let clock = Date.parse('2026-12-05T17:30:00Z');
  let n = 0;

  before(async () => {
    db = await connectDatabase(await mongoUri(), uniqueDbName('logout-forwards'));
    store = new PendingLogoutStore(db);
  });
  after(async () => {
    await db?.db.dropDatabase().catch(() => undefined);
    await db?.close();
  });

  const request = (): UserLogoutRequest => ({
    installationId: 'inst-1',
    accountId: 'acct-1',
    talkdeskUserId: `u-${++n}`,
    email: 'rui@acme.test',
    occurredAt: new Date(clock).toISOString(),
    eventId: `ev-logout-${n}-${Date.now()}`,
  });

  function forwarder(forward: (req: UserLogoutRequest) => Promise<void>) {
    const outcomes: LogoutForwardOutcome[] = [];
    const { logger, lines } = captureLogger('logout-forwards');
    const f = new LogoutForwarder({ store, forward, logger, onOutcome: (o) => outcomes.push(o), now: () => clock });
    return { f, outcomes, lines };
  }

  it('sends again with backoff, honouring Retry-After, until taken; a new forwarder (a restarted web) sends what the old one left', async () => {
    const answers: (Error | undefined)[] = [
      new PartnerUnavailableError('the partner answered 503', 90_000),
      new PartnerUnavailableError('the partner did not answer within 2000 ms'),
    ];
    const sent: UserLogoutRequest[] = [];
    const forward = async (req: UserLogoutRequest) => {
      sent.push(req);
      const answer = answers.shift();
      if (answer) throw answer;
    };
    const req = request();
    const first = forwarder(forward);
    const pending = await first.f.keep(req);
    first.f.sendNow(pending);
    await first.f.drain();
    let kept = await store.get(req.eventId);
    assert.equal(kept?.attempts, 1);
    assert.equal(kept.lastError, 'the partner answered 503');
    assert.equal(kept.dueAt.getTime(), clock + 90_000, "the partner's Retry-After (90 s) over the first backoff (30 s)");

    // The web process restarts: a new forwarder finds it in the store.
    const second = forwarder(forward);
    clock += 60_000;
    assert.equal(await second.f.retryDue(), 0, 'not due yet');
    clock += 30_000;
    assert.equal(await second.f.retryDue(), 1);
    kept = await store.get(req.eventId);
    assert.equal(kept?.attempts, 2);
    assert.equal(kept.dueAt.getTime(), clock + 60_000, 'the backoff doubles');

    clock += 60_000;
    assert.equal(await second.f.retryDue(), 1);
    assert.equal(await store.get(req.eventId), null, 'cleared once the partner took it');
    assert.equal(sent.length, 3);
    assert.ok(
      sent.every((s) => JSON.stringify(s) === JSON.stringify(req)),
      'the same logout each time (its event id keys the hook)',
    );
    assert.deepEqual([...first.outcomes, ...second.outcomes], ['retry', 'retry', 'delivered']);
    assert.ok(second.lines.some((l) => l.includes('partner hook delivered after retrying')));
  });

  it('gives up a day after the event arrived, logging the error by its class only', async () => {
    const req = request();
    const { f, outcomes, lines } = forwarder(async () => {
      throw new Error('connect ECONNREFUSED token=abc123');
    });
    await f.keep(req);
    clock += 30_000;
    await f.retryDue();
    assert.equal((await store.get(req.eventId))?.lastError, 'Error');
    clock += 24 * 3_600_000;
    await f.retryDue();
    assert.equal(await store.get(req.eventId), null);
    assert.deepEqual(outcomes, ['retry', 'given_up']);
    assert.ok(lines.some((l) => l.includes('given up after a day')));
    assert.ok(!lines.some((l) => l.includes('abc123')), 'no error text in the logs');
  });

  it('two web processes running the retry pass at once send a due logout once; a send cut short is due again after its claim', async () => {
    const req = request();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const sent: string[] = [];
    const forward = async (r: UserLogoutRequest) => {
      sent.push(r.eventId);
      await held;
    };
    const a = forwarder(forward);
    const b = forwarder(forward);
    await a.f.keep(req);
    clock += 30_000;
    const passes = Promise.all([a.f.retryDue(), b.f.retryDue()]);
    await eventually('the hook called', async () => (sent.length > 0 ? true : undefined));
    release();
    assert.deepEqual((await passes).sort(), [0, 1], 'one pass claimed it, the other skipped it');
    assert.deepEqual(sent, [req.eventId]);
    assert.equal(await store.get(req.eventId), null);

    // A process that claimed one and stopped before sending (killed): the claim runs out, then it is sent.
    const req2 = request();
    await a.f.keep(req2);
    clock += 30_000;
    const due = await store.due(new Date(clock));
    const mine = due.find((d) => d._id === req2.eventId);
    assert.ok(mine && (await store.claim(mine, new Date(clock + 120_000))), 'claimed by a process that then dies');
    assert.equal(await b.f.retryDue(), 0, 'held by the claim');
    clock += 120_000;
    assert.equal(await b.f.retryDue(), 1);
    assert.equal(sent.at(-1), req2.eventId);
    assert.equal(await store.get(req2.eventId), null);
  });

  it('a redelivered logout keeps its first copy and attempts', async () => {
    const req = request();
    const { f } = forwarder(async () => {
      throw new PartnerUnavailableError('the partner answered 502');
    });
    f.sendNow(await f.keep(req));
    await f.drain();
    const again = await f.keep(req);
    assert.equal(again.attempts, 1);
    assert.equal(again.lastError, 'the partner answered 502');
    await store.done(req.eventId);
  });
});
