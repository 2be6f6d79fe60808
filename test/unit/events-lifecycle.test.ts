import assert from 'node:assert/strict';
import { EVENT_TYPES, type EventType, type LifecycleEvent, type LifecycleEventOf } from '../../workflows/definitions';
import { extractCredentials, parseEvent, toLifecycleEvent, type TalkdeskEvent } from '../../src/events/schemas';
import { EXAMPLE_CREDENTIALS, exampleEvent } from '../../src/events/examples';

function parsed(body: unknown): TalkdeskEvent {
  const result = parseEvent(body);
  assert.ok(result.ok, JSON.stringify(result));
  return result.event;
}

const example = (type: (typeof EVENT_TYPES)[number]) => parsed(exampleEvent(type));

/** The lifecycle event of the example of `type`, narrowed to that type. */
function lifecycleOf<T extends EventType>(type: T, body: unknown = exampleEvent(type)): LifecycleEventOf<T> {
  const event = toLifecycleEvent(parsed(body));
  assert.equal(event.type, type);
  return event as LifecycleEventOf<T>;
}

describe('events/lifecycle toLifecycleEvent', () => {
  it('maps an install to ids, non-secret facts and the needed links', () => {
    const lifecycle = toLifecycleEvent(example('app.installed'));
    const expected: LifecycleEvent = {
      eventId: '8b62e0c6001548d7b59f8240d79cb0d7',
      type: 'app.installed',
      createdAt: '2016-06-14T16:23:07Z',
      appId: 'f918e2623486417791f3b5a18ca746ce',
      installationId: '9514148a170c4d4aaa344a540cec08c5',
      accountId: '052c3763ee0745c68a1f65f25b0bf273',
      accountName: 'starship',
      facts: {
        app_version_id: '970d6643b6604a9d8ec77d470a3903cf',
        app_version_name: 'app_version_name',
        client_id: EXAMPLE_CREDENTIALS.client_id,
        key_id: EXAMPLE_CREDENTIALS.key_id,
        key_algorithm: 'ES256',
      },
      links: {
        root: 'https://api.talkdeskapp.com',
        tokens: 'https://starship.talkdeskid.com/oauth/token',
        installation: 'https://api.talkdeskapp.com/apps/f918e2623486417791f3b5a18ca746ce/installations/9514148a170c4d4aaa344a540cec08c5',
      },
      // Saved by the credentials import for the launch routes, not by the callback.
      signInLinks: {
        authorization: 'https://starship.talkdeskid.com/oauth/authorize',
        userinfo: 'https://api.talkdeskapp.com/users/me',
        widgetUrl: 'https://prd-cdn-talkdesk.talkdesk.com/tdconnect-widget/latest/td.connect.js',
      },
    };
    assert.deepEqual(lifecycle, expected);
  });

  it('carries sign-in links only for events that bring credentials', () => {
    assert.equal(lifecycleOf('app.credentials_rotated').signInLinks, undefined, 'the example rotation has none');
    const withAuthorization = (body: Record<string, unknown>) => ({
      ...body,
      _links: { ...(body._links as object), authorization: { href: 'https://starship.talkdeskid.com/oauth/authorize' } },
    });
    const withLinks = withAuthorization(exampleEvent('app.credentials_rotated'));
    assert.deepEqual(lifecycleOf('app.credentials_rotated', withLinks).signInLinks, {
      authorization: 'https://starship.talkdeskid.com/oauth/authorize',
    });
    assert.equal(lifecycleOf('app.uninstalled', withAuthorization(exampleEvent('app.uninstalled'))).signInLinks, undefined);
  });

  for (const type of EVENT_TYPES) {
    it(`keeps every secret of ${type} out of its output`, () => {
      const body = exampleEvent(type);
      const event = parsed(body);
      const json = JSON.stringify(toLifecycleEvent(event));
      const data = body.data as Record<string, unknown>;
      for (const key of ['client_secret', 'private_key', 'public_key']) {
        assert.ok(!json.includes(key), `${key} named in ${json}`);
        const value = data[key];
        if (typeof value === 'string') assert.ok(!json.includes(value), `${key} value leaked`);
      }
      for (const value of [EXAMPLE_CREDENTIALS.client_secret, EXAMPLE_CREDENTIALS.private_key, EXAMPLE_CREDENTIALS.public_key]) {
        assert.ok(!json.includes(value));
        // Not even a recognisable piece of one.
        assert.ok(!json.includes(value.slice(10, 30)));
      }
    });
  }

  it('carries the rotation facts including compromised', () => {
    const lifecycle = lifecycleOf('app.credentials_rotated');
    assert.equal(lifecycle.facts.client_id, '45fa20ab98764c1e9d2f3a4b5c6d7e8f');
    assert.equal(lifecycle.facts.key_id, '9c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f');
    assert.equal(lifecycle.facts.compromised, false);
    assert.equal(lifecycle.accountId, undefined);
    assert.ok(!('accountId' in lifecycle));
  });

  it('carries update, uninstall and trial facts', () => {
    assert.deepEqual(lifecycleOf('app.updated').facts, {
      app_version_id: '970d6643b6604a9d8ec77d470a3903cf',
      app_version_name: 'app_version_name',
      users: { adding: ['5f3a1c9e2b7d4e60a1b2c3d4', '5f3a1c9e2b7d4e60a1b2c3d5'], removing: ['5f3a1c9e2b7d4e60a1b2c3d6'] },
      subscription: { adding: { name: 'Pro', licenses: 10 }, removing: { name: 'Basic', licenses: 5 } },
    });
    assert.deepEqual(lifecycleOf('app.uninstalled').facts.reason, { type: 'user_request', message: 'No longer needed' });
    assert.equal(lifecycleOf('app.trial_started').facts.expires_at, '2016-07-14T16:30:00Z');
    assert.equal(lifecycleOf('app.trial_extended').facts.expires_at, '2016-07-28T16:30:00Z');
    const ended = lifecycleOf('app.trial_ended');
    const { ended_at, expires_at, ended_reason, ended_by } = ended.facts;
    assert.deepEqual(
      { ended_at, expires_at, ended_reason, ended_by },
      { ended_at: '2016-07-14T16:30:00Z', expires_at: '2016-07-14T16:30:00Z', ended_reason: 'trial_expired', ended_by: 'system' },
    );
    assert.deepEqual(ended.links, {});
  });

  it('leaves out absent optional facts rather than writing undefined', () => {
    const body = exampleEvent('app.updated');
    delete (body.data as Record<string, unknown>).users;
    const facts = lifecycleOf('app.updated', body).facts;
    assert.ok(!('users' in facts));
  });

  it('does not share arrays with the parsed event', () => {
    const event = example('app.updated');
    const lifecycle = toLifecycleEvent(event);
    assert.ok(lifecycle.type === 'app.updated');
    lifecycle.facts.users?.adding?.push('x');
    assert.equal(lifecycle.facts.users?.adding?.length, 3);
    assert.ok(event.type === 'app.updated');
    assert.equal(event.data.users?.adding?.length, 2);
  });
});

describe('events/lifecycle app.trial_extended (fields not documented)', () => {
  it('takes the envelope and expires_at, and drops any other field', () => {
    const body = exampleEvent('app.trial_extended');
    Object.assign(body.data as Record<string, unknown>, { extended_by: 'user', days: 14, client_secret: 'not-to-be-kept' });
    const event = lifecycleOf('app.trial_extended', body);
    assert.equal(event.installationId, '9514148a170c4d4aaa344a540cec08c5');
    assert.equal(event.accountId, '052c3763ee0745c68a1f65f25b0bf273');
    assert.deepEqual(event.facts, {
      app_version_id: '970d6643b6604a9d8ec77d470a3903cf',
      app_version_name: 'app_version_name',
      expires_at: '2016-07-28T16:30:00Z',
    });
    assert.ok(!JSON.stringify(event).includes('not-to-be-kept'));
  });

  it('is accepted without expires_at, and refuses one that is not a timestamp like every other event', () => {
    const body = exampleEvent('app.trial_extended');
    delete (body.data as Record<string, unknown>).expires_at;
    assert.ok(!('expires_at' in lifecycleOf('app.trial_extended', body).facts));
    for (const expires of ['next month', 42, { $ne: null }]) {
      (body.data as Record<string, unknown>).expires_at = expires;
      const result = parseEvent(body);
      assert.ok(!result.ok && result.error.field === 'data.expires_at', JSON.stringify(result));
    }
  });

  it('still needs installation_id and account_id to be routed', () => {
    for (const field of ['installation_id', 'account_id']) {
      const body = exampleEvent('app.trial_extended');
      delete (body.data as Record<string, unknown>)[field];
      const result = parseEvent(body);
      assert.ok(!result.ok && result.error.field === `data.${field}`, JSON.stringify(result));
    }
  });
});

describe('events/lifecycle extractCredentials', () => {
  it('returns the install credentials in our naming', () => {
    assert.deepEqual(extractCredentials(example('app.installed')), {
      clientId: EXAMPLE_CREDENTIALS.client_id,
      clientSecret: EXAMPLE_CREDENTIALS.client_secret,
      privateKey: EXAMPLE_CREDENTIALS.private_key,
      publicKey: EXAMPLE_CREDENTIALS.public_key,
      keyId: EXAMPLE_CREDENTIALS.key_id,
      keyAlgorithm: 'ES256',
    });
  });

  it('returns the new credentials of a rotation', () => {
    const creds = extractCredentials(example('app.credentials_rotated'));
    assert.equal(creds?.clientId, '45fa20ab98764c1e9d2f3a4b5c6d7e8f');
    assert.equal(creds?.clientSecret, 'Pq4wE7rT2yU9iO0pA5sD8fG1hJ6kL3zXcVbNm0QwEr');
  });

  for (const type of ['app.updated', 'app.uninstalled', 'app.trial_started', 'app.trial_ended', 'app.trial_extended'] as const) {
    it(`returns undefined for ${type}`, () => assert.equal(extractCredentials(example(type)), undefined));
  }
});
