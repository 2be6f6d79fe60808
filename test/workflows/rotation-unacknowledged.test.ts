import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { activeInstallation as activeOne } from './active-installation';
import { ActivityStubs, clientIdFor, refused, unavailable, useInstallationUnderTest } from './harness';

/**
 * A rotation whose new set is never acknowledged at Talkdesk: refused for good, or not within its deadline. A
 * set that got a token is switched to all the same (the old one is revoked when compromised, and stops working
 * when a routine rotation's grace ends); a set Talkdesk refused is destroyed and the old one kept.
 */
describe('installation workflow: a rotation never acknowledged', function () {
  this.timeout(60_000);
  const { env, start } = useInstallationUnderTest();

  const activeInstallation = (stubs?: ActivityStubs, options = {}) => activeOne(start, stubs, options);

  it('a rotation whose new credentials do not work keeps the old ones and destroys the new', async () => {
    const stubs = new ActivityStubs();
    stubs.on('obtainToken', async (i) => {
      // Only the installed set works (the install itself asks for no token of its own: provisioning gets it).
      const installed = clientIdFor(String(stubs.of('importCredentials')[0]?.eventId));
      if (i.clientId !== installed) throw refused('invalid_client');
      return { expiresAt: new Date(Date.now() + 3_600_000).toISOString(), scope: 'apps:write', cached: false };
    });
    const { t, oldClient } = await activeInstallation(stubs);
    const rotation = t.event('app.credentials_rotated');
    await t.send(rotation);
    const v = await t.until('the rotation to be dropped', (s) => s.ignoredEvents.length > 0);
    assert.equal(v.activeClientId, oldClient);
    assert.deepEqual(
      v.ignoredEvents.map((e) => e.eventId),
      [rotation.eventId],
    );
    assert.deepEqual(t.stubs.of('switchCredentials'), []);
    assert.deepEqual(t.stubs.of('acknowledgeCredentials'), []);
    assert.deepEqual(t.stubs.of('destroyCredentials'), [{ installationId: t.installationId, clientId: clientIdFor(rotation.eventId) }]);
    // Why, where operators look: the state query's history and lastError, not only the worker's log.
    const ended = v.history.at(-1);
    assert.deepEqual([ended?.phase, ended?.eventId, ended?.result], ['active', rotation.eventId, 'failed']);
    assert.match(ended?.detail ?? '', /invalid_client/);
    assert.match(v.lastError ?? '', /^rotation failed: .*invalid_client/);
    assert.match(await t.currentDetails(), /Last error: rotation failed: .*invalid_client/);
  });

  /** A routine rotation whose new set is gone when switched to (destroyed meanwhile): `switchCredentials` refuses it. */
  async function rotatedWhileSetGone(stubs: ActivityStubs) {
    stubs.on('switchCredentials', async (i) => {
      throw ApplicationFailure.create({
        type: 'CredentialsMissing',
        message: `No usable credentials (client ${i.clientId})`,
        nonRetryable: true,
      });
    });
    const { t, oldClient } = await activeInstallation(stubs);
    const rotation = t.event('app.credentials_rotated');
    await t.send(rotation);
    const v = await t.settled('active', (s) => s.history.at(-1)?.eventId === rotation.eventId);
    return { t, v, oldClient };
  }

  it('a rotation whose new set is gone when it switches (destroyed meanwhile) keeps the old set; the workflow goes on', async () => {
    const { t, v, oldClient } = await rotatedWhileSetGone(new ActivityStubs());
    assert.equal(v.activeClientId, oldClient);
    assert.equal(t.stubs.of('switchCredentials').length, 1, 'not tried again outside the phase (it failed the workflow)');
    assert.deepEqual(
      [v.history.at(-1)?.result, v.history.at(-1)?.outcome],
      ['failed', 'rotation failed: ' + v.history.at(-1)?.detail + '; the current credentials are kept'],
    );
    // Still running: the next event is applied.
    await t.send(t.event('app.updated', { atSeconds: 60 }));
    await t.settled('active', (s) => s.appliedEvents === 3);
  });

  it('a proven set destroyed before the switch that would keep it (its acknowledgement refused): the old set stays, the workflow goes on', async () => {
    const refusing = new ActivityStubs().on('acknowledgeCredentials', async () =>
      Promise.reject(refused('Talkdesk refused the request (403)')),
    );
    const { t, v, oldClient } = await rotatedWhileSetGone(refusing);
    assert.equal(v.activeClientId, oldClient);
    assert.equal(t.stubs.of('switchCredentials').length, 1, 'the keep-proven-set switch, refused');
    assert.match(v.history.at(-1)?.outcome ?? '', /the current credentials are kept/);
  });

  it('a compromised rotation whose acknowledgement Talkdesk refuses for good still switches to its proven set (the old one is revoked)', async () => {
    const stubs = new ActivityStubs().on('acknowledgeCredentials', async () => {
      throw refused('Talkdesk refused the request (403)');
    });
    const { t, oldClient } = await activeInstallation(stubs);
    const rotation = t.event('app.credentials_rotated', { facts: { compromised: true } });
    await t.send(rotation);
    const newClient = clientIdFor(rotation.eventId);
    const v = await t.settled('active', (s) => s.history.at(-1)?.eventId === rotation.eventId);
    assert.equal(v.activeClientId, newClient);
    assert.deepEqual(v.retiringCredentials, []);
    const sw = t.stubs.of('switchCredentials')[0];
    assert.deepEqual([sw?.clientId, sw?.previousClientId, sw?.destroyPreviousNow], [newClient, oldClient, true]);
    assert.ok(!t.stubs.of('destroyCredentials').some((d) => d.clientId === newClient), 'the new set is kept');
    assert.equal(v.history.at(-1)?.result, 'failed');
    assert.match(v.history.at(-1)?.outcome ?? '', /new credentials are used all the same/);
    assert.match(v.lastError ?? '', /^rotation failed: .*403/);
  });

  it("a routine rotation whose acknowledgement Talkdesk refuses for good still switches to its proven set; the old one retires at the grace's end", async () => {
    const refusing = new ActivityStubs().on('acknowledgeCredentials', () => Promise.reject(refused('Talkdesk refused the request (403)')));
    const { t, oldClient } = await activeInstallation(refusing);
    const rotation = t.event('app.credentials_rotated', { facts: { compromised: false } });
    await t.send(rotation);
    const newClient = clientIdFor(rotation.eventId);
    const v = await t.settled('active', (s) => s.history.at(-1)?.eventId === rotation.eventId);
    assert.deepEqual([v.activeClientId, v.retiringCredentials.map((r) => r.clientId)], [newClient, [oldClient]]);
    const sw = t.stubs.of('switchCredentials')[0];
    assert.deepEqual([sw?.clientId, sw?.previousClientId, sw?.destroyPreviousNow], [newClient, oldClient, false]);
    const sinceGraceEnd = Date.parse(String(sw?.retireAt)) - (Date.parse(rotation.createdAt) + 7 * 86_400_000);
    assert.ok(sinceGraceEnd <= 0 && sinceGraceEnd > -60_000, `retired when the grace counted from the event ends (${sinceGraceEnd} ms)`);
    assert.ok(!t.stubs.of('destroyCredentials').some((d) => d.clientId === newClient), 'the new set is kept');
    assert.match(v.history.at(-1)?.outcome ?? '', /^rotation failed: .*403.*used all the same \(they got a token\)/);
  });

  it('a compromised rotation whose new set Talkdesk refuses after its token (invalid_client) does not switch to it', async () => {
    const stubs = new ActivityStubs().on('acknowledgeCredentials', async () => {
      throw ApplicationFailure.nonRetryable('Talkdesk refused the client (invalid_client)', 'TalkdeskInvalidClient');
    });
    const { t, oldClient } = await activeInstallation(stubs);
    const rotation = t.event('app.credentials_rotated', { facts: { compromised: true } });
    await t.send(rotation);
    const v = await t.settled('active', (s) => s.history.at(-1)?.eventId === rotation.eventId);
    assert.equal(v.activeClientId, oldClient);
    assert.deepEqual(t.stubs.of('switchCredentials'), []);
    assert.match(v.history.at(-1)?.outcome ?? '', /the current credentials are kept/);
  });

  it('a routine rotation whose acknowledgement never lands within its deadline switches to its proven set; the old one retires at the grace end', async () => {
    const failing = new ActivityStubs().on('acknowledgeCredentials', () => Promise.reject(unavailable()));
    const { t, oldClient } = await activeInstallation(failing, { phaseTimeoutMs: 60_000, phaseMarginMs: 0 });
    const rotation = t.event('app.credentials_rotated', { facts: { compromised: false } });
    await t.send(rotation);
    await t.until('the acknowledgement retrying', (s) => s.attempts > 1);
    await env().sleep('2 minutes'); // past the rotation's deadline (60 s from the event)
    const v = await t.settled('active', (s) => s.history.at(-1)?.eventId === rotation.eventId);
    assert.equal(v.history.at(-1)?.result, 'expired');
    assert.deepEqual([v.activeClientId, v.retiringCredentials.map((r) => r.clientId)], [clientIdFor(rotation.eventId), [oldClient]]);
    const sinceGraceEnd =
      Date.parse(String(t.stubs.of('switchCredentials')[0]?.retireAt)) - (Date.parse(rotation.createdAt) + 7 * 86_400_000);
    assert.ok(sinceGraceEnd <= 0 && sinceGraceEnd > -120_000, `retired when the grace counted from the event ends (${sinceGraceEnd} ms)`);
  });

  it('a routine rotation whose new set Talkdesk refuses after its token (invalid_client) keeps the old set and destroys the new', async () => {
    const stubs = new ActivityStubs().on('acknowledgeCredentials', async () => {
      throw ApplicationFailure.nonRetryable('Talkdesk refused the client (invalid_client)', 'TalkdeskInvalidClient');
    });
    const { t, oldClient } = await activeInstallation(stubs);
    const rotation = t.event('app.credentials_rotated', { facts: { compromised: false } });
    await t.send(rotation);
    const v = await t.settled('active', (s) => s.history.at(-1)?.eventId === rotation.eventId);
    assert.equal(v.activeClientId, oldClient);
    assert.deepEqual(t.stubs.of('switchCredentials'), []);
    assert.deepEqual(t.stubs.of('destroyCredentials'), [{ installationId: t.installationId, clientId: clientIdFor(rotation.eventId) }]);
    assert.match(v.history.at(-1)?.outcome ?? '', /the current credentials are kept/);
  });

  it('a rotation handled after its seven days still imports and proves its set, and switches to it (the old grace is over)', async () => {
    const { t, oldClient } = await activeInstallation();
    // Dated now, handled eight days later (queued behind an outage, a lost workflow resumed late).
    const rotation = t.event('app.credentials_rotated', { facts: { compromised: false } });
    await env().sleep('8 days');
    await t.send(rotation);
    const newClient = clientIdFor(rotation.eventId);
    const v = await t.settled('active', (s) => s.history.at(-1)?.eventId === rotation.eventId);
    assert.deepEqual(
      t.stubs.of('obtainToken').map((o) => o.clientId),
      [newClient],
      'its set is proven',
    );
    assert.equal(v.activeClientId, newClient, 'before, the old set was kept: Talkdesk no longer accepts it');
    assert.deepEqual(t.stubs.of('acknowledgeCredentials'), [], 'too late to acknowledge');
    const sw = t.stubs.of('switchCredentials')[0];
    assert.deepEqual([sw?.previousClientId, sw?.destroyPreviousNow], [oldClient, false]);
    // At once: its grace (seven days from the event) is over; not seven days from now.
    assert.ok(Date.parse(String(sw?.retireAt)) <= Date.parse(v.history.at(-1)?.endedAt ?? ''), 'the old set retires at once');
    assert.equal(v.history.at(-1)?.result, 'expired');
    assert.match(v.history.at(-1)?.outcome ?? '', /new credentials are used all the same/);
  });
});
