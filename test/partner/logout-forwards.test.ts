import assert from 'node:assert/strict';
import {
  LogoutForwarder,
  PartnerRefusedError,
  PartnerUnavailableError,
  PendingLogoutStore,
  type LogoutForwardOutcome,
  type UserLogoutRequest,
} from '../../src/partner';
import { connectDatabase, type Database } from '../../src/store';
import { captureLogger } from '../support/logs';
import { mongoUri, uniqueDbName } from '../support/servers';

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

  function forwarder(forward: (req: UserLogoutRequest) => Promise<void>, timing?: { drainMs: number }) {
    const outcomes: LogoutForwardOutcome[] = [];
    const { logger, lines } = captureLogger('logout-forwards');
    const f = new LogoutForwarder({ store, forward, logger, onOutcome: (o) => outcomes.push(o), now: () => clock, timing });
    return { f, outcomes, lines };
  }

  it("a hook's final refusal (PartnerRefusedError) is not sent again: counted delivered (the partner answered), its reason logged", async () => {
    let sends = 0;
    const { f, outcomes, lines } = forwarder(async () => {
      sends += 1;
      throw new PartnerRefusedError('unknown user', 404);
    });
    const req = request();
    f.sendNow(await f.keep(req));
    await f.drain();
    assert.equal(await store.get(req.eventId), null, 'not kept for a resend');
    clock += 24 * 3_600_000;
    assert.equal(await f.retryDue(), 0);
    assert.equal(sends, 1);
    assert.deepEqual(outcomes, ['delivered']);
    assert.ok(
      lines.some((l) => /refused it for good/.test(l) && l.includes('"reason":"unknown user"')),
      lines.join('\n'),
    );
  });

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

  it('web processes running the retry pass at once send each due logout once, on FerretDB too (a claim is a unique insert)', async () => {
    const reqs = Array.from({ length: 12 }, () => request());
    const sent: string[] = [];
    // Slow enough that the passes overlap on every logout; some fail, to move dueAt under the others.
    const forward = async (r: UserLogoutRequest) => {
      sent.push(r.eventId);
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (Number(r.talkdeskUserId.slice(2)) % 3 === 0) throw new PartnerUnavailableError('the partner answered 503');
    };
    const passes = [forwarder(forward), forwarder(forward), forwarder(forward), forwarder(forward)];
    for (const r of reqs) await store.add(r, new Date(clock), new Date(clock));
    clock += 1;
    const tried = await Promise.all(passes.map((p) => p.f.retryDue()));
    const mine = new Set(reqs.map((r) => r.eventId));
    const ours = sent.filter((id) => mine.has(id));
    assert.equal(
      ours.length,
      reqs.length,
      `each sent once: ${ours.length} sends of ${reqs.length} logouts, passes tried ${tried.join(', ')}`,
    );
    assert.equal(new Set(ours).size, reqs.length);
    assert.equal(
      tried.reduce((x, y) => x + y, 0),
      reqs.length,
    );
    for (const r of reqs) await store.done(r.eventId);
  });

  it('a resend cut short (its process killed after claiming) is sent again once its claim is stale', async () => {
    const sent: string[] = [];
    const b = forwarder(async (r) => void sent.push(r.eventId));
    const req = request();
    await b.f.keep(req);
    clock += 30_000;
    const mine = (await store.due(new Date(clock))).find((d) => d._id === req.eventId);
    assert.ok(mine && (await store.claim(mine, new Date(clock + 120_000), new Date(clock))), 'claimed by a process that then dies');
    assert.equal(await b.f.retryDue(), 0, 'held by the claim');
    assert.deepEqual(sent, []);
    clock += 120_000;
    assert.equal(await b.f.retryDue(), 1);
    assert.deepEqual(sent, [req.eventId]);
    assert.equal(await store.get(req.eventId), null);
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

  it('a shutdown waits for a first attempt up to drainMs only; the logout cut short stays kept and is sent when due', async () => {
    const req = request();
    let release: () => void = () => undefined;
    const hung = new Promise<void>((resolve) => (release = resolve));
    const first = forwarder(() => hung, { drainMs: 300 });
    first.f.sendNow(await first.f.keep(req));
    first.f.stop();
    assert.equal(await first.f.drain(), false, 'the drain gave up on the attempt that never ended');
    assert.ok(
      first.lines.some((l) => l.includes('stopped before its forward was recorded') && l.includes('"inFlight":1')),
      'the cut is logged',
    );
    const kept = await store.get(req.eventId);
    assert.equal(kept?.attempts, 0, 'still kept, as Talkdesk was answered with it stored');

    // The next web process sends it once it is due (firstRetryMs after it was kept).
    const sent: string[] = [];
    const next = forwarder(async (r) => void sent.push(r.eventId));
    clock += 30_000;
    assert.equal(await next.f.retryDue(), 1);
    assert.deepEqual(sent, [req.eventId]);
    assert.equal(await store.get(req.eventId), null);
    release();
  });
});
