import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { createActivities } from '../../activities';
import { CREDENTIALS_UNREADABLE, SECRETS_KEY_MISSING, toFailure } from '../../activities/failures';
import { generateKeySpec, parseKeyring, type Keyring } from '../../src/crypto/secrets';
import { extractCredentials, parseEvent, toLifecycleEvent } from '../../src/events/schemas';
import { createLogger } from '../../src/logging/logger';
import { createStore } from '../../src/store';
import { sealEventCredentials } from '../../src/store/event-credentials';
import { TalkdeskClient } from '../../src/talkdesk/client';
import { startActivityHarness, type ActivityHarness } from '../support/activity-harness';

/**
 * A SECRETS_KEY rotation that restarts the web before the workers: the web seals an event's
 * credentials under the new key id, which a worker still on the old setting cannot read. The
 * import is retried (SecretsKeyMissing, saying what to do) for an hour after the event arrived,
 * and succeeds once the worker has the key; only later is it final (the install is rejected).
 * Activities in-process, FerretDB, the simulator.
 */
describe('importCredentials under a key the worker lacks (the web restarted first in a key rotation)', function () {
  this.timeout(60_000);
  let h: ActivityHarness;
  const webSpec = generateKeySpec('web-new');
  before(async () => (h = await startActivityHarness()));
  after(() => h?.close());

  /** What the web with the new key stores for an app.installed that arrived at `receivedAt`. */
  async function storedByNewWeb(receivedAt: Date) {
    const { installation, event } = h.simulator.createInstallation();
    const parsed = parseEvent(JSON.parse(JSON.stringify(event)));
    assert.ok(parsed.ok);
    const lifecycle = toLifecycleEvent(parsed.event);
    const creds = extractCredentials(parsed.event);
    assert.ok(creds);
    const webRing = parseKeyring(webSpec);
    await h.store.inbox.insert(
      {
        _id: event.id,
        installationId: installation.id,
        type: event.type,
        createdAt: new Date(event.created_at),
        receivedAt,
        event: lifecycle,
      },
      sealEventCredentials(webRing, installation.id, creds),
      { queue: false },
    );
    return { installationId: installation.id, eventId: event.id, activate: true };
  }

  /** The activities of a worker started with `keyring`. */
  const workerWith = (keyring: Keyring) =>
    createActivities({
      store: createStore(h.db, keyring),
      talkdesk: new TalkdeskClient({ allowedHosts: [], timeoutMs: 1_000 }),
      logger: createLogger({ level: 'silent' }),
    });

  it('is retried with what to do while the event is recent, and imports once the worker has the key', async () => {
    const input = await storedByNewWeb(new Date());
    const err = await h.run(h.acts.importCredentials, input).then(
      () => assert.fail('imported under a key the worker does not have'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, SECRETS_KEY_MISSING);
    assert.equal(err.nonRetryable, false);
    assert.match(err.message, /key id "web-new".*Give the workers the web's SECRETS_KEY and restart them: retried until /);
    assert.equal(toFailure(err, 'importCredentials'), err, 'the interceptor keeps it as it is');
    assert.deepEqual(await h.store.credentials.list(input.installationId), [], 'nothing imported');

    // The worker restarted with the web's setting (new key first, the old one after it).
    const restarted = workerWith(parseKeyring(`${webSpec},${h.keySpec}`));
    const imported = await h.run(restarted.importCredentials, input);
    assert.equal((await h.store.credentials.list(input.installationId)).map((c) => c.clientId).join(), imported.clientId);
  });

  it('is final an hour after the event arrived (CredentialsUnreadable)', async () => {
    const input = await storedByNewWeb(new Date(Date.now() - 61 * 60 * 1000));
    const err = await h.run(h.acts.importCredentials, input).then(
      () => assert.fail('imported under a key the worker does not have'),
      (e: unknown) => e,
    );
    const failure = toFailure(err, 'importCredentials');
    assert.equal(failure.type, CREDENTIALS_UNREADABLE);
    assert.equal(failure.nonRetryable, true);
  });
});
