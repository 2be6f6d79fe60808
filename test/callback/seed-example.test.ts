import assert from 'node:assert/strict';
import { exampleEvent } from '../../src/events/examples';
import { generateInstallationKeys } from '../../src/simulator';
import { workflowIdFor, type InstallationView } from '../../workflows/definitions';
import { postCallback } from '../support/callback-client';
import { APP_ID, useSystem, type TestSystem } from '../support/system';
import { eventually } from '../support/waits';

/** The payload example of Talkdesk's documented `app.installed` event, verbatim. */
const SEED_APP_INSTALLED = `{
  "id": "8b62e0c6001548d7b59f8240d79cb0d7",
  "created_at": "2016-06-14T16:23:07Z",
  "api_version": "1",
  "type": "app.installed",
  "app_id": "f918e2623486417791f3b5a18ca746ce",
  "app_version_id": "970d6643b6604a9d8ec77d470a3903cf",
  "app_version_name": "app_version_name",
  "data": {
    "installation_id": "9514148a170c4d4aaa344a540cec08c5",
    "account_id": "052c3763ee0745c68a1f65f25b0bf273",
    "account_name": "starship",
    "client_id": "23de1fee7658490f8021465553402546",
    "client_secret": "CLIENT_SECRET",
    "private_key": "PRIVATE_KEY",
    "public_key": "PUBLIC_KEY",
    "key_id": "78a574781e434d0b9991edd0994fbeed",
    "key_algorithm": "ES256"
  },
  "_links": {
    "root": {
      "href": "https://api.talkdeskapp.com"
    },
    "self": {
      "href": "https://api.talkdeskapp.com/apps/f918e2623486417791f3b5a18ca746ce/events/3214155a170c4d4aaa344a540ceckrik1"
    },
    "userinfo": {
      "href": "https://api.talkdeskapp.com/users/me"
    },
    "authorization": {
      "href": "https://starship.talkdeskid.com/oauth/authorize"
    },
    "tokens": {
      "href": "https://starship.talkdeskid.com/oauth/token"
    },
    "installation": {
      "href": "https://api.talkdeskapp.com/apps/f918e2623486417791f3b5a18ca746ce/installations/9514148a170c4d4aaa344a540cec08c5"
    },
    "widget_url": {
      "href": "https://prd-cdn-talkdesk.talkdesk.com/tdconnect-widget/latest/td.connect.js"
    }
  }
}`;

type Mutable = Record<string, unknown> & { data: Record<string, unknown>; _links: Record<string, unknown> };

describe("callback: the seed document's example (app-installed-event.txt)", function () {
  this.timeout(60_000);
  let sys: TestSystem;
  useSystem((s) => (sys = s));

  it('matches exampleEvent("app.installed") apart from its placeholder credentials', () => {
    const seed = JSON.parse(SEED_APP_INSTALLED) as Mutable;
    const example = exampleEvent('app.installed') as Mutable;
    for (const e of [seed, example]) {
      for (const k of ['client_secret', 'private_key', 'public_key']) delete e.data[k];
    }
    assert.deepEqual(example, seed);
  });

  it('is refused as it is (2016: older than the inbox retention); dated nine days ago it is accepted and, its seven days over, expires', async () => {
    const keys = generateInstallationKeys('ES256');
    const event = JSON.parse(SEED_APP_INSTALLED) as Mutable;
    event.app_id = APP_ID;
    event.data.client_secret = 'seed-client-secret-9f8e7d6c5b4a3210';
    event.data.private_key = keys.private_key;
    event.data.public_key = keys.public_key;
    const installationId = event.data.installation_id as string;

    const tooOld = await postCallback(sys.web.callbackUrl, event);
    assert.equal(tooOld.status, 400, tooOld.text);
    assert.equal((tooOld.json as { error?: { code?: string } } | undefined)?.error?.code, 'event_too_old');
    assert.equal(await sys.store.inbox.get(event.id as string), null, 'nothing stored');

    const createdAt = new Date(Math.floor((Date.now() - 9 * 86_400_000) / 1000) * 1000);
    event.created_at = createdAt.toISOString().replace(/\.000Z$/, 'Z');
    const answer = await postCallback(sys.web.callbackUrl, event);
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(answer.json, { status: 'accepted', eventId: event.id, dispatched: true });
    const record = await sys.store.inbox.get(event.id as string);
    assert.equal(record?.installationId, installationId);
    assert.equal(record?.createdAt.toISOString(), createdAt.toISOString());
    assert.ok(record?.dispatchedAt, 'dispatched at once');

    const handle = sys.client.workflow.getHandle(workflowIdFor(installationId));
    const view: InstallationView = await handle.result();
    assert.equal(view.phase, 'expired');
    assert.equal(view.history.length, 1);
    assert.equal(view.history[0]?.phase, 'installing');
    assert.equal(view.history[0]?.eventId, event.id);
    assert.equal(view.history[0]?.result, 'expired');
    assert.equal((await handle.describe()).status.name, 'COMPLETED');

    // No approval was sent, nor any other Talkdesk call attempted: the deadline (two days ago)
    // had passed before the phase began, so not one of its steps was even scheduled (the
    // seed's links, which are not on the test allow-list, were never used).
    const history = await handle.fetchHistory();
    // Scheduled on the server, or run as a local activity (its marker names it: patch store-steps-local).
    const scheduled = (history.events ?? []).flatMap((e) => {
      const marker = e.markerRecordedEventAttributes;
      const local = marker?.markerName === 'core_local_activity' ? marker.details?.data?.payloads?.[0]?.data : undefined;
      const name = local
        ? (JSON.parse(Buffer.from(local).toString('utf8')) as { activity_type?: string }).activity_type
        : e.activityTaskScheduledEventAttributes?.activityType?.name;
      return name ? [name] : [];
    });
    assert.ok(scheduled.includes('recordInstallation'), `the phase was recorded (${scheduled.join(', ')})`);
    for (const talkdeskStep of ['importCredentials', 'obtainToken', 'provisionAccount', 'setInstallationState']) {
      assert.ok(!scheduled.includes(talkdeskStep), `${talkdeskStep} was not scheduled (${scheduled.join(', ')})`);
    }
    assert.equal(view.activeClientId, undefined);
    assert.deepEqual(sys.simulator.stateCalls(installationId), []);
    assert.deepEqual(
      sys.simulator.calls.filter((c) => c.installationId === installationId),
      [],
      'no call for the installation reached the simulator',
    );
    const phase = await eventually('the expired phase recorded', async () => {
      const rec = await sys.store.installations.get(installationId);
      return rec?.phase === 'expired' ? rec.phase : undefined;
    });
    assert.equal(phase, 'expired');
    assert.deepEqual(await sys.store.credentials.list(installationId), [], 'the expired install leaves no credentials');
    assert.equal(await sys.store.accounts.findByInstallation(installationId), null, 'no account was provisioned');
  });
});
