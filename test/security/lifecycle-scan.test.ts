import assert from 'node:assert/strict';
import { COLLECTIONS } from '../../src/store';
import { dumpDatabase, leakedSecrets, textOf } from '../support/secret-scan';
import { useSystem, WEBHOOK_SECRET, type TestSystem } from '../support/system';
import { workflowIdFor, type InstallationView } from '../../workflows/definitions';
import { eventually, finalView, queryState, waitForPhase } from '../support/waits';

/**
 * A full lifecycle (install, update, credential rotation, uninstall), then a scan
 * of every workflow history of the task queue, every log line and every MongoDB
 * document for each secret the simulator issued or received (client secrets,
 * private keys in both forms, access tokens, client assertions, the webhook
 * secret): zero matches. The scan is shown to cover real data.
 */
describe('security: no secret of a whole lifecycle is kept anywhere in plaintext', function () {
  this.timeout(60_000);
  let sys: TestSystem;
  useSystem((s) => (sys = s));

  /** Waits until the installation is active with `check` true of its view; on timeout, says what it last saw. */
  async function settled(installationId: string, what: string, check: (v: InstallationView) => boolean): Promise<InstallationView> {
    let last: InstallationView | undefined;
    try {
      return await eventually(what, async () => {
        last = await queryState(sys.client, installationId);
        return last.phase === 'active' && !last.currentStep && last.pendingEvents.length === 0 && check(last) ? last : undefined;
      });
    } catch (err) {
      throw new Error(`${(err as Error).message}; last state: ${JSON.stringify(last)}`);
    }
  }

  const deliver = async (event: unknown) => {
    const status = await sys.simulator.deliver(event as never, { callbackUrl: sys.web.callbackUrl });
    assert.equal(status, 200, `delivery answered ${status}`);
  };

  it('install → update → rotation → uninstall, then histories, logs and MongoDB hold none of the secrets', async () => {
    const { installation, event } = sys.simulator.createInstallation({ licensedUsers: 3, algorithm: 'ES256' });
    await deliver(event);
    await waitForPhase(sys.client, installation.id, 'active');

    await deliver(sys.simulator.updateInstallation(installation.id, { addUsers: 2, subscription: { name: 'pro', licenses: 20 } }));
    await settled(installation.id, 'the update applied', (v) => v.appliedEvents === 2);

    const rotation = sys.simulator.rotateCredentials(installation.id);
    await deliver(rotation);
    const rotated = await settled(installation.id, 'the rotation applied', (v) => v.activeClientId === rotation.data.client_id);
    // The new credentials are used for real: a token is issued to the rotated client.
    await deliver(sys.simulator.updateUsers(installation.id, { add: 1 }));
    await settled(installation.id, 'the second update applied', (v) => v.appliedEvents === rotated.appliedEvents + 1);

    await deliver(sys.simulator.uninstall(installation.id));
    const done = await finalView(sys.client, installation.id);
    assert.equal(done.phase, 'uninstalled');

    // -- What to look for.
    const secrets = sys.simulator.issuedSecrets();
    for (const s of [
      event.data.client_secret,
      event.data.private_key,
      rotation.data.client_secret,
      rotation.data.private_key,
      WEBHOOK_SECRET,
    ]) {
      assert.ok(secrets.includes(s), 'the issued secrets include both credential sets and the webhook secret');
    }
    const tokenCalls = sys.simulator.calls.filter((c) => c.route === 'token' && c.status === 200);
    assert.ok(
      tokenCalls.some((c) => c.clientId === rotation.data.client_id),
      'the rotated credentials were used',
    );
    assert.ok(
      secrets.length >= 1 + 2 * 3 + tokenCalls.length * 2,
      `secrets to look for: ${secrets.length} (${tokenCalls.length} tokens issued)`,
    );

    // -- Every workflow history of this task queue (the installation's, and any other this system started).
    const ids: string[] = [];
    for await (const wf of sys.client.workflow.list({ query: `TaskQueue = "${sys.taskQueue}"` })) ids.push(wf.workflowId);
    assert.ok(ids.includes(workflowIdFor(installation.id)), `the installation's workflow is listed (${ids.join(', ')})`);
    const histories: string[] = [];
    let historyEvents = 0;
    for (const id of ids) {
      const handle = sys.client.workflow.getHandle(id);
      const history = await handle.fetchHistory();
      historyEvents += history.events?.length ?? 0;
      histories.push(textOf(history), JSON.stringify(history), textOf((await handle.describe()).raw));
    }
    const historyText = histories.join('\n');
    for (const known of [
      event.data.client_id,
      rotation.data.client_id,
      installation.id,
      'approve',
      'acknowledgeCredentials',
      'destroyCredentials',
    ]) {
      assert.ok(historyText.includes(known), `the decoded histories mention ${known}`);
    }
    assert.ok(historyEvents > 60, `history events scanned: ${historyEvents}`);
    // The store-only steps are local activities (patch store-steps-local): their inputs and results
    // are in markers, which the scan reads like any other event.
    assert.ok(
      historyText.includes('core_local_activity') && historyText.includes('"activity_type":"importCredentials"'),
      "the scanned histories hold the local activities' markers",
    );

    // -- Every log line.
    const logText = sys.logLines.join('\n');
    assert.ok(sys.logLines.length >= 10, `log lines: ${sys.logLines.length}`);
    assert.ok(logText.includes(rotation.data.client_id) || logText.includes(installation.id), 'the logs speak of the installation');

    // -- Every MongoDB document.
    const dump = await dumpDatabase(sys.store.db.db);
    for (const name of [
      COLLECTIONS.inbox,
      COLLECTIONS.credentials,
      COLLECTIONS.installations,
      COLLECTIONS.accounts,
      COLLECTIONS.userMappings,
    ]) {
      assert.ok((dump.collections[name] ?? 0) > 0, `collection ${name} was scanned with documents (${JSON.stringify(dump.collections)})`);
    }
    assert.ok(dump.text.includes(event.data.client_id) && dump.text.includes(rotation.data.client_id), 'the dump holds both client ids');

    // Access tokens and client assertions are JWTs; secretForms looks for their signatures.
    const jwts = secrets.filter((s) => /^[\w-]+\.[\w-]+\.[\w-]{40,}$/.test(s));
    assert.ok(jwts.length >= tokenCalls.length, `client assertions among the secrets: ${jwts.length}`);
    const where: Record<string, string> = { 'workflow histories': historyText, logs: logText, mongodb: dump.text };
    for (const [place, text] of Object.entries(where)) {
      const leaks = leakedSecrets(text, secrets);
      assert.deepEqual(leaks, [], `${place}: forms of issued secrets found (index, form, offset): ${JSON.stringify(leaks)}`);
    }

    // -- And after the uninstall, not even the ciphertexts are left.
    const creds = await sys.store.db.collection(COLLECTIONS.credentials).find({}).toArray();
    assert.equal(creds.length, 2, 'both credential sets are on record');
    for (const c of creds) {
      assert.equal(c.status, 'destroyed');
      assert.equal(c.secret, undefined, 'the encrypted secret is removed, not only marked');
    }
    assert.equal(await sys.store.db.collection(COLLECTIONS.tokens).countDocuments(), 0, 'no cached token is left');
    assert.equal(
      await sys.store.db.collection(COLLECTIONS.inbox).countDocuments({ credentials: { $exists: true } }),
      0,
      'no inbox record keeps encrypted credentials',
    );
    assert.equal(
      await sys.store.db.collection(COLLECTIONS.eventCredentials).countDocuments({ installationId: installation.id }),
      0,
      'no event credentials are left',
    );
  });
});
