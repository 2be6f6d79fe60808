import assert from 'node:assert/strict';
import { defaultPayloadConverter } from '@temporalio/common';
import { BSON, Binary } from 'mongodb';
import { generateInstallationKeys, privateKeyPem } from '../../src/simulator';
import { workflowIdFor } from '../../workflows/definitions';
import { dumpDatabase, leakedSecrets, secretForms, textOf } from '../support/secret-scan';
import { useSystem, type TestSystem } from '../support/system';
import { waitForPhase } from '../support/waits';

describe('secrets never reach workflow histories, logs or MongoDB in plaintext', function () {
  this.timeout(60_000);
  let sys: TestSystem;
  useSystem((s) => (sys = s));

  it('the scan itself finds a planted secret in a payload, a JSON log line and a Binary field', () => {
    const keys = generateInstallationKeys('ES256');
    const pem = privateKeyPem(keys.private_key);
    const token = 'tok_' + 'A1b2C3d4'.repeat(5);
    const payload = defaultPayloadConverter.toPayload({ note: 'leaked', pem });
    const history = { events: [{ eventId: 1, activityTaskScheduledEventAttributes: { input: { payloads: [payload] } } }] };
    assert.ok(!JSON.stringify(history).includes(pem.slice(40, 80)), 'plain JSON.stringify would miss it');
    assert.notDeepEqual(leakedSecrets(textOf(history), [pem]), []);
    assert.notDeepEqual(leakedSecrets(JSON.stringify({ msg: 'x', key: pem }), [pem]), [], 'a PEM in a JSON line');
    assert.notDeepEqual(leakedSecrets(JSON.stringify({ msg: `token ${token.slice(4, 40)}…` }), [token]), [], 'a truncated copy');
    const doc = { _id: 'x', raw: new Binary(Buffer.from(token)), der: new Binary(Buffer.from(keys.private_key, 'base64')) };
    const docText = BSON.EJSON.stringify(doc, { relaxed: false }) + textOf(doc);
    assert.notDeepEqual(leakedSecrets(docText, [token]), [], 'a token stored as bytes');
    assert.notDeepEqual(leakedSecrets(docText, [keys.private_key]), [], 'a private key stored as DER bytes');
    assert.deepEqual(leakedSecrets(docText + textOf(history), ['not-there-at-all-0123456789']), []);
  });

  it('after an install and an install refused with a 400 that echoes the access token', async () => {
    // 1. A plain install (RSA keys, so a PEM of another shape is among the secrets).
    const ok = sys.simulator.createInstallation({ algorithm: 'PS256', licensedUsers: 3 });
    assert.equal(await sys.simulator.deliver(ok.event, { callbackUrl: sys.web.callbackUrl }), 200);
    await waitForPhase(sys.client, ok.installation.id, 'active');

    // 2. An install whose GET /account answers 400 with the access token just issued to
    //    it echoed in the body and the headers (a debugging proxy, a careless gateway).
    const bad = sys.simulator.createInstallation({ algorithm: 'ES384' });
    const secretsBefore = sys.simulator.issuedSecrets();
    let echoed: string | undefined;
    const tokenIssued = new Promise<string>((resolve) => {
      const off = sys.simulator.onCall((call) => {
        if (call.route !== 'token' || call.status !== 200 || call.clientId !== bad.event.data.client_id) return;
        off();
        // The access token is the last secret the simulator issued (after the assertion it received).
        const token = sys.simulator.issuedSecrets().at(-1) as string;
        echoed = token;
        // Listeners run as the answer goes out: the account call comes later, in another activity.
        sys.simulator.failNext('account', 1, {
          status: 400,
          body: {
            code: 'invalid_token',
            error: token,
            message: `Bearer ${token} is not valid for this account`,
            description: `received Authorization: Bearer ${token}`,
            fields: [{ name: 'authorization', value: token, description: token.slice(0, 20) }],
            token,
          },
          headers: {
            'www-authenticate': `Bearer realm="talkdesk", error="invalid_request", error_description="token ${token} rejected"`,
            'x-echo-authorization': `Bearer ${token}`,
            'x-debug-token': token,
          },
        });
        resolve(token);
      });
    });
    assert.equal(await sys.simulator.deliver(bad.event, { callbackUrl: sys.web.callbackUrl }), 200);
    const token = await tokenIssued;
    assert.ok(!secretsBefore.includes(token), 'the echoed value is the newly issued access token');
    const rejected = await waitForPhase(sys.client, bad.installation.id, 'rejected');
    const accountCall = sys.simulator.calls.find((c) => c.route === 'account' && c.fault === 'status');
    assert.equal(accountCall?.status, 400, 'the echoing 400 was served');
    assert.equal(rejected.history.at(-1)?.result, 'rejected');
    assert.match(
      rejected.history.at(-1)?.detail ?? '',
      /Talkdesk answered 400 \(invalid_token\) to GET \/account/,
      'the reason names the call, not the echoed token',
    );

    // 3. Everything kept about these installations.
    const secrets = sys.simulator.issuedSecrets();
    assert.ok(secrets.includes(token) && secrets.includes(ok.event.data.client_secret) && secrets.includes(bad.event.data.private_key));
    assert.ok(echoed && secrets.length >= 10, `secrets to look for: ${secrets.length}`);

    const histories: string[] = [];
    let historyEvents = 0;
    for (const installationId of [ok.installation.id, bad.installation.id]) {
      const handle = sys.client.workflow.getHandle(workflowIdFor(installationId));
      const history = await handle.fetchHistory();
      const events = history.events ?? [];
      assert.ok(events.length > 10, `history of ${installationId} has ${events.length} events`);
      historyEvents += events.length;
      histories.push(textOf(history), JSON.stringify(history), textOf((await handle.describe()).raw));
    }
    const historyText = histories.join('\n');
    // Positive controls: the decoded payloads are really read (facts, failures, the rejection).
    for (const known of [
      ok.event.data.client_id,
      bad.event.data.client_id,
      ok.event.data.account_name,
      'GET /account',
      'approve',
      'reject',
    ]) {
      assert.ok(historyText.includes(known), `the decoded histories contain ${known}`);
    }

    const logText = sys.logLines.join('\n');
    // The web server's and the activities' lines (stored, imported, provisioned, approve, reject, undone, destroyed).
    assert.ok(sys.logLines.length >= 8, `log lines: ${sys.logLines.length}`);
    assert.ok(logText.includes(bad.installation.id) && logText.includes(ok.installation.id), 'the logs speak of both installations');

    const dump = await dumpDatabase(sys.store.db.db);
    for (const name of ['inbox', 'credentials', 'accounts', 'user_mappings', 'installations']) {
      assert.ok((dump.collections[name] ?? 0) > 0, `collection ${name} has documents (${JSON.stringify(dump.collections)})`);
    }
    const docCount = Object.values(dump.collections).reduce((a, b) => a + b, 0);
    assert.ok(docCount >= 8, `documents scanned: ${docCount}`);
    assert.ok(dump.text.includes(ok.event.data.client_id), 'the dump holds the client id (not secret)');
    assert.match(dump.text, /"ct":"/, 'the dump holds the encrypted credentials');

    // What went back to Talkdesk in the rejection is also kept (Talkdesk shows it to the admin).
    const stateBodies = JSON.stringify([...sys.simulator.stateCalls(ok.installation.id), ...sys.simulator.stateCalls(bad.installation.id)]);
    assert.match(stateBodies, /"state":"reject"/);

    const where: Record<string, string> = { histories: historyText, logs: logText, mongodb: dump.text, 'state calls': stateBodies };
    for (const [place, text] of Object.entries(where)) {
      const leaks = leakedSecrets(text, secrets);
      assert.deepEqual(
        leaks,
        [],
        `${place}: secrets found (index in issuedSecrets, form, offset): ${JSON.stringify(leaks)}; ` +
          `context: ${JSON.stringify(leaks.slice(0, 3).map((l) => text.slice(Math.max(0, l.at - 80), l.at).replace(/[A-Za-z0-9+/_-]{12,}$/, '…')))}`,
      );
    }
    // The echoed token in all its forms, explicitly (it is in `secrets` too).
    for (const form of secretForms(token)) {
      for (const [place, text] of Object.entries(where)) assert.ok(!text.includes(form), `${place} holds a form of the echoed token`);
    }
    assert.ok(historyEvents > 20 && historyText.length > 10_000 && dump.text.length > 5_000 && logText.length > 1_500);
  });
});
