import assert from 'node:assert/strict';
import fc from 'fast-check';
import { EVENT_TYPES, type EventType } from '../../workflows/definitions';
import { parseEvent, type TalkdeskEvent } from '../../src/events/schemas';
import { exampleEvent } from '../../src/events/examples';

/** The payload example of the seed document, placeholders and all. */
const SEED_EXAMPLE = {
  id: '8b62e0c6001548d7b59f8240d79cb0d7',
  created_at: '2016-06-14T16:23:07Z',
  api_version: '1',
  type: 'app.installed',
  app_id: 'f918e2623486417791f3b5a18ca746ce',
  app_version_id: '970d6643b6604a9d8ec77d470a3903cf',
  app_version_name: 'app_version_name',
  data: {
    installation_id: '9514148a170c4d4aaa344a540cec08c5',
    account_id: '052c3763ee0745c68a1f65f25b0bf273',
    account_name: 'starship',
    client_id: '23de1fee7658490f8021465553402546',
    client_secret: 'CLIENT_SECRET',
    private_key: 'PRIVATE_KEY',
    public_key: 'PUBLIC_KEY',
    key_id: '78a574781e434d0b9991edd0994fbeed',
    key_algorithm: 'ES256',
  },
  _links: {
    root: { href: 'https://api.talkdeskapp.com' },
    self: { href: 'https://api.talkdeskapp.com/apps/f918e2623486417791f3b5a18ca746ce/events/3214155a170c4d4aaa344a540ceckrik1' },
    userinfo: { href: 'https://api.talkdeskapp.com/users/me' },
    authorization: { href: 'https://starship.talkdeskid.com/oauth/authorize' },
    tokens: { href: 'https://starship.talkdeskid.com/oauth/token' },
    installation: {
      href: 'https://api.talkdeskapp.com/apps/f918e2623486417791f3b5a18ca746ce/installations/9514148a170c4d4aaa344a540cec08c5',
    },
    widget_url: { href: 'https://prd-cdn-talkdesk.talkdesk.com/tdconnect-widget/latest/td.connect.js' },
  },
};

type Json = Record<string, unknown>;

function parsed(body: unknown): TalkdeskEvent {
  const result = parseEvent(body);
  assert.ok(result.ok, `expected to parse, got ${JSON.stringify(result)}`);
  return result.event;
}

function refusedAt(body: unknown, field: string, message?: RegExp): void {
  const result = parseEvent(body);
  assert.equal(result.ok, false, `expected refusal at ${field}`);
  if (result.ok) return;
  assert.equal(result.error.field, field, `message: ${result.error.message}`);
  if (message) assert.match(result.error.message, message);
}

/** Sets a dotted path in a copy of an example; `undefined` deletes it. */
function withField(type: EventType, path: string, value: unknown): Json {
  const body = exampleEvent(type);
  const keys = path.split('.');
  let node: Json = body;
  for (const key of keys.slice(0, -1)) node = node[key] as Json;
  const last = keys[keys.length - 1] as string;
  if (value === undefined) delete node[last];
  else node[last] = value;
  return body;
}

/** Dotted paths of every string leaf of a body. */
function stringPaths(value: unknown, prefix = ''): string[] {
  if (typeof value === 'string') return [prefix];
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => stringPaths(v, prefix ? `${prefix}.${k}` : k));
}

describe('events/schemas parseEvent', () => {
  it('parses the seed example (placeholders) and the example with real-looking credentials', () => {
    const seed = parsed(SEED_EXAMPLE);
    assert.equal(seed.type, 'app.installed');
    const real = parsed(exampleEvent('app.installed'));
    assert.equal(real.type, 'app.installed');
    if (real.type === 'app.installed') {
      assert.equal(real.data.account_name, 'starship');
      assert.equal(real.data.key_algorithm, 'ES256');
      assert.equal(real._links.tokens.href, 'https://starship.talkdeskid.com/oauth/token');
    }
  });

  for (const type of EVENT_TYPES) {
    it(`parses a valid ${type}`, () => {
      const event = parsed(exampleEvent(type));
      assert.equal(event.type, type);
      assert.equal(event.data.installation_id, '9514148a170c4d4aaa344a540cec08c5');
    });
  }

  it('accepts every key algorithm and refuses others', () => {
    for (const alg of ['ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512']) {
      parsed(withField('app.installed', 'data.key_algorithm', alg));
      parsed(withField('app.credentials_rotated', 'data.key_algorithm', alg));
    }
    for (const alg of ['RS256', 'es256', 'none', '', 256]) {
      refusedAt(withField('app.installed', 'data.key_algorithm', alg), 'data.key_algorithm', /ES256/);
    }
  });

  it('accepts the optional parts of app.updated, app.uninstalled and app.credentials_rotated being absent', () => {
    parsed(withField('app.updated', 'data.users', undefined));
    parsed(withField('app.updated', 'data.subscription', undefined));
    parsed(withField('app.updated', 'data.users', { adding: ['u1'] }));
    parsed(withField('app.updated', '_links', undefined));
    parsed(withField('app.uninstalled', 'data.reason', undefined));
    parsed(withField('app.uninstalled', 'data.reason', { type: 'other' }));
    parsed(withField('app.credentials_rotated', 'data.compromised', undefined));
    parsed(withField('app.credentials_rotated', 'data.compromised', true));
    parsed(withField('app.credentials_rotated', '_links', {}));
    parsed(withField('app.trial_ended', '_links', undefined));
  });

  it('accepts timestamps with an offset and fractional seconds', () => {
    parsed(withField('app.trial_started', 'created_at', '2024-03-01T10:00:00.123+01:00'));
  });

  it('drops unknown keys instead of passing them on', () => {
    const body = withField('app.installed', 'data.extra', { $where: 'sleep(1000)' });
    body.also = 1;
    const event = parsed(body);
    assert.ok(!('extra' in event.data));
    assert.ok(!('also' in event));
  });

  it('refuses an unknown or missing type at field "type"', () => {
    refusedAt(withField('app.installed', 'type', 'app.deleted'), 'type', /app\.installed/);
    refusedAt(withField('app.installed', 'type', undefined), 'type');
    refusedAt(withField('app.installed', 'type', { $ne: null }), 'type');
  });

  it('refuses a body that is not an object at "(root)"', () => {
    for (const body of [null, undefined, 'text', 42, [], true]) refusedAt(body, '(root)');
  });

  const missing: Array<[EventType, string]> = [
    ['app.installed', 'id'],
    ['app.installed', 'created_at'],
    ['app.installed', 'api_version'],
    ['app.installed', 'app_id'],
    ['app.installed', 'app_version_id'],
    ['app.installed', 'app_version_name'],
    ['app.installed', 'data'],
    ['app.installed', '_links'],
    ['app.installed', '_links.root'],
    ['app.installed', '_links.tokens'],
    ['app.installed', 'data.installation_id'],
    ['app.installed', 'data.account_id'],
    ['app.installed', 'data.account_name'],
    ['app.installed', 'data.client_id'],
    ['app.installed', 'data.client_secret'],
    ['app.installed', 'data.private_key'],
    ['app.installed', 'data.public_key'],
    ['app.installed', 'data.key_id'],
    ['app.installed', 'data.key_algorithm'],
    ['app.credentials_rotated', 'data.installation_id'],
    ['app.credentials_rotated', 'data.client_secret'],
    ['app.updated', 'data.account_name'],
    ['app.uninstalled', 'data.account_id'],
    ['app.trial_started', 'data.expires_at'],
    ['app.trial_ended', 'data.installation_id'],
    ['app.trial_ended', 'data.ended_at'],
    ['app.trial_ended', 'data.ended_reason'],
    ['app.trial_ended', 'data.ended_by'],
  ];
  /** Without `_links.installation` too: the id is taken from that link when `data` lacks it. */
  const unroutable = (type: EventType, path: string) => {
    const body = withField(type, path, undefined);
    if (path === 'data.installation_id') delete (body._links as Json | undefined)?.installation;
    return body;
  };
  for (const [type, path] of missing) {
    it(`names ${path} when it is missing from ${type}`, () => refusedAt(unroutable(type, path), path));
  }

  it("routes a rotation or a trial end without data.installation_id by its _links.installation (the reference's rotation names none)", () => {
    const href = (id: string) => ({ href: `https://api.talkdeskapp.com/apps/f918e2623486417791f3b5a18ca746ce/installations/${id}` });
    for (const type of ['app.credentials_rotated', 'app.trial_ended'] as const) {
      const body = withField(type, 'data.installation_id', undefined);
      body._links = { ...(body._links as Json), installation: href('9514148a170c4d4aaa344a540cec08c5') };
      assert.equal((parsed(body).data as { installation_id: string }).installation_id, '9514148a170c4d4aaa344a540cec08c5', type);
      // The id taken is checked as any: a link that names no installation, or a bad id, is refused there.
      body._links = { ...(body._links as Json), installation: { href: 'https://api.talkdeskapp.com/apps/x/events/1' } };
      refusedAt(body, 'data.installation_id');
      body._links = { ...(body._links as Json), installation: href('bad%20id') };
      refusedAt(body, 'data.installation_id');
      body._links = { ...(body._links as Json), installation: href('%E0%A4') };
      refusedAt(body, 'data.installation_id');
    }
    // Not for the events whose reference names the id: an install without it is refused as before.
    refusedAt(withField('app.installed', 'data.installation_id', undefined), 'data.installation_id');
  });

  it('takes an optional field sent as null as absent (the event kept, not refused on every delivery); a required one stays refused', () => {
    const nulls: Array<[EventType, string]> = [
      ['app.credentials_rotated', 'data.account_id'],
      ['app.credentials_rotated', 'data.account_name'],
      ['app.credentials_rotated', 'data.compromised'],
      ['app.uninstalled', 'data.reason'],
      ['app.uninstalled', 'data.reason.message'],
      ['app.updated', 'data.users'],
      ['app.updated', 'data.subscription'],
      ['app.trial_ended', 'data.account_id'],
      ['app.trial_extended', 'data.expires_at'],
    ];
    for (const [type, path] of nulls) {
      const data = parsed(withField(type, path, null)).data as Json;
      const [, field, sub] = path.split('.');
      const value = sub ? (data[field!] as Json)[sub] : data[field!];
      assert.equal(value, undefined, `${type} ${path}`);
    }
    refusedAt(withField('app.installed', 'data.account_id', null), 'data.account_id');
    // A rotation's null id is routed by its link as an absent one is.
    const rotation = withField('app.credentials_rotated', 'data.installation_id', null);
    rotation._links = {
      ...(rotation._links as Json),
      installation: { href: 'https://api.talkdeskapp.com/apps/f918e2623486417791f3b5a18ca746ce/installations/inst-7' },
    };
    assert.equal((parsed(rotation).data as { installation_id: string }).installation_id, 'inst-7');
  });

  it("cuts a long uninstall reason's message at 2048 characters instead of refusing the uninstall", () => {
    const message = (value: string) =>
      (parsed(withField('app.uninstalled', 'data.reason.message', value)).data as { reason?: { message?: string } }).reason?.message;
    assert.equal(message('tab\tand\nnewline'), 'tab\tand\nnewline');
    assert.equal(message('x'.repeat(3000)), 'x'.repeat(2048));
    assert.equal(message('😀'.repeat(2049)), '😀'.repeat(2048), 'cut by characters, never half a pair');
  });

  const wrong: Array<[EventType, string, unknown, RegExp?]> = [
    ['app.installed', 'api_version', '2', /"1"/],
    ['app.installed', 'api_version', 1],
    ['app.installed', 'created_at', '2016-06-14T16:23:07', /zone/],
    ['app.installed', 'created_at', 'yesterday'],
    ['app.installed', 'id', '', /empty/],
    ['app.installed', 'id', 'a'.repeat(129), /128/],
    ['app.installed', 'id', 'has space'],
    ['app.installed', 'app_id', '../../etc/passwd'],
    ['app.installed', 'data.account_name', 'line\nbreak', /control/],
    ['app.installed', 'data.account_name', 'x'.repeat(257), /256/],
    ['app.installed', 'data.client_secret', 's'.repeat(16 * 1024 + 1)],
    ['app.installed', 'data.client_secret', 12345],
    ['app.installed', '_links.tokens', 'https://starship.talkdeskid.com/oauth/token'],
    ['app.installed', '_links.tokens.href', 42],
    ['app.installed', '_links.tokens.href', { $gt: '' }],
    ['app.installed', '_links.tokens.href', 'not a url'],
    ['app.installed', '_links.tokens.href', 'javascript:alert(1)', /http/],
    ['app.installed', '_links.root.href', `https://api.talkdeskapp.com/${'a'.repeat(2048)}`, /2048/],
    ['app.installed', '_links.$where', { href: 'https://a.example' }, /link name/],
    ['app.installed', '_links.self.href', ['https://a.example']],
    ['app.updated', 'data.users.adding', 'u1'],
    ['app.updated', 'data.users.adding.0', { $ne: null }],
    ['app.updated', 'data.subscription.adding.licenses', -1],
    ['app.updated', 'data.subscription.adding.licenses', 1.5],
    ['app.updated', 'data.subscription.adding.name', { $ne: null }],
    ['app.updated', 'data.subscription.$set', { name: 'x', licenses: 1 }],
    ['app.uninstalled', 'data.reason.type', { $ne: null }],
    ['app.uninstalled', 'data.reason.message', 'bell\u0007'],
    ['app.credentials_rotated', 'data.compromised', 'yes'],
    ['app.trial_ended', 'data.ended_reason', 'bored', /trial_expired/],
    ['app.trial_ended', 'data.ended_by', 'admin', /system/],
    ['app.trial_started', 'data.expires_at', 1718000000],
  ];
  for (const [type, path, value, message] of wrong) {
    it(`names ${path} when it is ${JSON.stringify(value).slice(0, 40)} in ${type}`, () =>
      refusedAt(withField(type, path, value), path, message));
  }

  it('refuses an oversized list of users', () => {
    const many = Array.from({ length: 10_001 }, (_, i) => `u${i}`);
    refusedAt(withField('app.updated', 'data.users.adding', many), 'data.users.adding');
  });

  it('accepts licenses given as a numeric string and yields a number', () => {
    const event = parsed(withField('app.updated', 'data.subscription.adding.licenses', '12'));
    assert.ok(event.type === 'app.updated');
    assert.equal(event.data.subscription?.adding?.licenses, 12);
  });

  for (const type of EVENT_TYPES) {
    it(`refuses {"$ne": null} in every string field of ${type}`, () => {
      const paths = stringPaths(exampleEvent(type));
      assert.ok(paths.length >= 8, `only ${paths.length} string fields`);
      for (const path of paths) {
        const result = parseEvent(withField(type, path, { $ne: null }));
        assert.equal(result.ok, false, `accepted an object at ${path}`);
        if (!result.ok) assert.equal(result.error.field, path === 'type' ? 'type' : path);
      }
    });
  }

  it('does not let __proto__ in a body pollute anything', () => {
    const body = JSON.parse(
      JSON.stringify(exampleEvent('app.installed')).replace('"_links":{', '"_links":{"__proto__":{"href":"https://evil.example"},'),
    );
    const event = parsed(body);
    assert.equal(Object.getPrototypeOf(event._links), Object.prototype);
    assert.equal(({} as Json).href, undefined);
  });

  it('never throws, whatever JSON it is given (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const result = parseEvent(value);
        assert.equal(typeof result.ok, 'boolean');
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...EVENT_TYPES),
        fc.dictionary(fc.constantFrom('id', 'installation_id', 'client_id', 'key_algorithm', 'account_name'), fc.jsonValue()),
        (type, patch) => {
          const body = exampleEvent(type);
          Object.assign(body.data as Json, patch);
          const result = parseEvent(body);
          if (!result.ok) assert.ok(result.error.field.length > 0 && result.error.message.length > 0);
        },
      ),
      { numRuns: 300 },
    );
  });
});
