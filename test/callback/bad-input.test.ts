import assert from 'node:assert/strict';
import { signBody, type InstalledEvent } from '../../src/simulator';
import { COLLECTIONS } from '../../src/store/db';
import { postCallback, type CallbackAnswer, type PostOptions } from '../support/callback-client';
import { assertNothingStored, copy, inboxCount, type Mutable } from '../support/callback-checks';
import { WEBHOOK_SECRET, useSystem, type TestSystem } from '../support/system';

describe('callback: bad input is refused, nothing is stored, no workflow starts', function () {
  this.timeout(60_000);
  let sys: TestSystem;
  useSystem((s) => (sys = s));

  /** A fresh, valid install event of a simulated installation; each test breaks its own. */
  const fresh = () => sys.simulator.createInstallation().event;

  /** What must not be stored of an event: its id and its installation's. */
  const refsOf = (event: { id: string; data: { installation_id: string } }) => ({
    eventId: event.id,
    installationId: event.data.installation_id,
  });

  /**
   * Posts `body` once and checks the refusal: status, error code and field, and that
   * neither the inbox nor Temporal saw anything of the event.
   */
  async function expectRefused(
    body: unknown,
    opts: PostOptions,
    expected: { status: number; code: string; field?: string },
    refs: { eventId?: string; installationId?: string },
  ): Promise<CallbackAnswer> {
    const countBefore = await inboxCount(sys.store);
    const answer = await postCallback(sys.web.callbackUrl, body, opts);
    assert.equal(answer.status, expected.status, `status (body: ${answer.text})`);
    assert.equal(answer.json?.error?.code, expected.code, `error code (body: ${answer.text})`);
    if (expected.field !== undefined) assert.equal(answer.json?.error?.field, expected.field, `error field (body: ${answer.text})`);
    assert.match(String(answer.headers['content-type']), /^application\/json/);
    await assertNothingStored(sys.store, sys.client, { countBefore, ...refs });
    return answer;
  }

  describe('x-hub-signature', () => {
    it('refuses a body signed with another secret (401)', async () => {
      const event = fresh();
      await expectRefused(event, { secret: 'not-the-webhook-secret' }, { status: 401, code: 'invalid_signature' }, refsOf(event));
    });

    it('refuses a body without the header (401)', async () => {
      const event = fresh();
      await expectRefused(event, { signature: null }, { status: 401, code: 'invalid_signature' }, refsOf(event));
    });

    it('refuses a truncated signature, and an empty one (401)', async () => {
      const event = fresh();
      const good = signBody(WEBHOOK_SECRET, JSON.stringify(event));
      for (const signature of [good.slice(0, -2), good.slice(0, 'sha256='.length + 32), 'sha256=', good.slice('sha256='.length, -2)]) {
        await expectRefused(event, { signature }, { status: 401, code: 'invalid_signature' }, refsOf(event));
      }
    });

    it("accepts the bare hex of a valid signature, upper case (the form Talkdesk's test receiver compares)", async () => {
      const event = fresh();
      const body = JSON.stringify(event);
      const signature = signBody(WEBHOOK_SECRET, body).slice('sha256='.length).toUpperCase();
      const answer = await postCallback(sys.web.callbackUrl, body, { signature });
      assert.ok(answer.status === 200 || answer.status === 202, `${answer.status} ${answer.text}`);
      // Stored before the answer.
      assert.ok(await sys.store.db.db.collection(COLLECTIONS.inbox).findOne({ _id: event.id as never }), 'stored');
    });

    it('refuses a sha256 computed over a re-serialised body (401)', async () => {
      const event = fresh();
      // What a framework that parsed and re-encoded the JSON would check: same content, other bytes.
      const sentBytes = JSON.stringify(event, null, 2);
      const signedBytes = JSON.stringify(event);
      assert.deepEqual(JSON.parse(sentBytes), JSON.parse(signedBytes));
      await expectRefused(
        sentBytes,
        { signature: signBody(WEBHOOK_SECRET, signedBytes) },
        { status: 401, code: 'invalid_signature' },
        refsOf(event),
      );
      // And the other way round: a signature over the body re-encoded with its keys reordered.
      const reordered = JSON.stringify(Object.fromEntries(Object.entries(event).reverse()));
      await expectRefused(
        signedBytes,
        { signature: signBody(WEBHOOK_SECRET, reordered) },
        { status: 401, code: 'invalid_signature' },
        refsOf(event),
      );
    });

    it("refuses another event's valid signature replayed on this body (401)", async () => {
      const event = fresh();
      const other = fresh();
      await expectRefused(
        event,
        { signature: signBody(WEBHOOK_SECRET, JSON.stringify(other)) },
        { status: 401, code: 'invalid_signature' },
        refsOf(event), // nothing stored for it: checked by expectRefused against the count before the POST
      );
    });
  });

  it('refuses a properly signed event for another app_id (403)', async () => {
    const event = copy(fresh());
    event.app_id = 'f918e2623486417791f3b5a18ca746ce';
    await expectRefused(
      event,
      {},
      { status: 403, code: 'wrong_app' },
      {
        eventId: event.id as string,
        installationId: event.data.installation_id as string,
      },
    );
  });

  describe('schema failures (400, naming the field)', () => {
    const cases: { name: string; field: string; breakIt(e: Mutable): void }[] = [
      { name: 'an unknown key algorithm', field: 'data.key_algorithm', breakIt: (e) => (e.data.key_algorithm = 'RS256') },
      { name: 'a missing client_secret', field: 'data.client_secret', breakIt: (e) => delete e.data.client_secret },
      { name: 'an empty private_key', field: 'data.private_key', breakIt: (e) => (e.data.private_key = '') },
      { name: 'a created_at without a zone', field: 'created_at', breakIt: (e) => (e.created_at = '2024-05-01 10:00:00') },
      { name: 'a numeric account_id', field: 'data.account_id', breakIt: (e) => (e.data.account_id = 12345) },
      {
        name: 'an installation_id with a slash',
        field: 'data.installation_id',
        breakIt: (e) => (e.data.installation_id = '../etc/passwd'),
      },
      { name: 'api_version 2', field: 'api_version', breakIt: (e) => (e.api_version = '2') },
      { name: 'no tokens link on an install', field: '_links.tokens', breakIt: (e) => delete e._links.tokens },
      { name: 'a javascript: root link', field: '_links.root.href', breakIt: (e) => (e._links.root = { href: 'javascript:alert(1)' }) },
      {
        name: 'a link named with a $',
        field: '_links.$where',
        breakIt: (e) => (e._links.$where = { href: 'https://api.talkdeskapp.com' }),
      },
      { name: 'a data that is an array', field: 'data', breakIt: (e) => (e.data = [] as unknown as Record<string, unknown>) },
    ];
    for (const c of cases) {
      it(`refuses ${c.name} (field ${c.field})`, async () => {
        const original = fresh();
        const event = copy(original);
        c.breakIt(event);
        await expectRefused(
          event,
          {},
          { status: 400, code: 'invalid_event', field: c.field },
          {
            eventId: original.id,
            installationId: original.data.installation_id,
          },
        );
      });
    }

    for (const field of ['id', 'data.installation_id', 'data.account_id', 'data.client_secret', 'app_id'] as const) {
      it(`refuses {"$ne": null} in the string field ${field}`, async () => {
        const original = fresh();
        const event = copy(original);
        const path = field.split('.');
        const leaf = path.pop() as string;
        const parent = path.reduce<Record<string, unknown>>((o, k) => o[k] as Record<string, unknown>, event);
        parent[leaf] = { $ne: null };
        const answer = await expectRefused(
          event,
          {},
          { status: 400, code: 'invalid_event', field },
          {
            eventId: original.id,
            installationId: original.data.installation_id,
          },
        );
        assert.doesNotMatch(answer.text, /\$ne/, 'the answer does not echo the operator');
      });
    }

    it('refuses an unknown type (field type)', async () => {
      const original = fresh();
      const event = copy(original);
      event.type = 'app.exploded';
      await expectRefused(
        event,
        {},
        { status: 400, code: 'invalid_event', field: 'type' },
        {
          eventId: original.id,
          installationId: original.data.installation_id,
        },
      );
    });

    it('refuses JSON that is not an event object: an array, null, a string (field (root))', async () => {
      for (const body of ['[]', 'null', '"app.installed"', '42']) {
        await expectRefused(body, {}, { status: 400, code: 'invalid_event', field: '(root)' }, {});
      }
    });

    it('does not quote a secret value in the refusal', async () => {
      const original = fresh();
      const event = copy(original);
      event.data.key_algorithm = 'RS256';
      const answer = await expectRefused(
        event,
        {},
        { status: 400, code: 'invalid_event', field: 'data.key_algorithm' },
        {
          eventId: original.id,
          installationId: original.data.installation_id,
        },
      );
      for (const secret of [original.data.client_secret, original.data.private_key, 'RS256']) {
        assert.ok(!answer.text.includes(secret), 'the answer quotes no value of the event');
      }
    });
  });

  describe('not JSON (415)', () => {
    it('refuses a signed body that is not JSON', async () => {
      await expectRefused('this is not json {', {}, { status: 415, code: 'not_json' }, {});
      const event = fresh();
      const raw = JSON.stringify(event);
      await expectRefused(raw.slice(0, raw.length / 2), {}, { status: 415, code: 'not_json' }, refsOf(event));
    });

    it('takes the media type in any case, with spaces before its parameters', async () => {
      for (const contentType of ['Application/JSON', 'application/json ; charset=utf-8']) {
        const event = fresh();
        const answer = await postCallback(sys.web.callbackUrl, JSON.stringify(event), { contentType });
        assert.ok(answer.status === 200 || answer.status === 202, `${contentType}: ${answer.status} ${answer.text}`);
      }
    });

    it('refuses a valid signed event sent with another content type', async () => {
      for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml', 'multipart/form-data; boundary=x']) {
        const event = fresh();
        await expectRefused(event, { contentType }, { status: 415, code: 'unsupported_media_type' }, refsOf(event));
      }
    });

    it('accepts application/json with a charset parameter (control)', async () => {
      const { installation, event } = sys.simulator.createInstallation();
      const answer = await postCallback(sys.web.callbackUrl, event, { contentType: 'application/json; charset=utf-8' });
      assert.equal(answer.status, 200, answer.text);
      assert.equal((await sys.store.inbox.get(event.id))?.installationId, installation.id);
    });
  });

  describe('oversize body (413; the limit is 64kb)', () => {
    const oversized = (event: InstalledEvent) => {
      const body = JSON.stringify({ ...event, padding: 'x'.repeat(70 * 1024) });
      assert.ok(Buffer.byteLength(body) > 64 * 1024);
      return body;
    };

    it('refuses it as announced by content-length', async () => {
      const event = fresh();
      await expectRefused(oversized(event), {}, { status: 413, code: 'body_too_large' }, refsOf(event));
    });

    it('refuses it as it arrives when sent chunked without content-length', async () => {
      const event = fresh();
      await expectRefused(oversized(event), { chunkBytes: 8 * 1024 }, { status: 413, code: 'body_too_large' }, refsOf(event));
    });

    it('accepts a body just under the limit sent chunked (control)', async () => {
      const { installation, event } = sys.simulator.createInstallation();
      const raw = JSON.stringify(event);
      const body = raw.replace(/\}$/, `,"padding":"${'x'.repeat(60 * 1024 - raw.length)}"}`);
      assert.ok(Buffer.byteLength(body) < 64 * 1024);
      const answer = await postCallback(sys.web.callbackUrl, body, { chunkBytes: 4 * 1024 });
      assert.equal(answer.status, 200, answer.text);
      assert.equal((await sys.store.inbox.get(event.id))?.installationId, installation.id);
    });
  });
});
