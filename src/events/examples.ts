import type { EventType } from '../../workflows/definitions';

/**
 * One example body per event type, shaped like the reference (the installed one is
 * the seed document's example with real-looking credentials in place of its
 * placeholders). For tests, docs and demos; the credentials are made up.
 */

const APP_ID = 'f918e2623486417791f3b5a18ca746ce';
const INSTALLATION_ID = '9514148a170c4d4aaa344a540cec08c5';
const API = 'https://api.talkdeskapp.com';

export const EXAMPLE_CREDENTIALS = {
  client_id: '23de1fee7658490f8021465553402546',
  client_secret: 'Zr8vQ2xK7pLmN4tW9cYb1HsJ6dFgA3eUoRi5ViTq0nXw',
  private_key:
    'MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgq3Yw9Hn0cVrLx2PZmJtRkE4bVa8sWdFo1uNiGy7KpQuhRANCAATk5bX2yqHcN0mLrUv8JfOe3sTgPa9WdZ1KxQiBn4VhCy6oRtMe7GjSuFw2lYc0DpHzA8bNk3vXr5LqIeTmOu1',
  public_key: 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE5OW19sqh3DdJi61L/CXznt7E4D2vVnWdSsUIgZ+FYQsuqEbTHuxo0rhcNpWHNA6R8wPGzZN71696i5Hk5jrtQ==',
  key_id: '78a574781e434d0b9991edd0994fbeed',
  key_algorithm: 'ES256',
} as const;

function base(type: EventType, id: string, createdAt: string) {
  return {
    id,
    created_at: createdAt,
    api_version: '1',
    type,
    app_id: APP_ID,
    app_version_id: '970d6643b6604a9d8ec77d470a3903cf',
    app_version_name: 'app_version_name',
  };
}

const installationLinks = {
  root: { href: API },
  self: { href: `${API}/apps/${APP_ID}/events/3214155a170c4d4aaa344a540ceckrik1` },
  installation: { href: `${API}/apps/${APP_ID}/installations/${INSTALLATION_ID}` },
};

const EXAMPLES: Record<EventType, unknown> = {
  'app.installed': {
    ...base('app.installed', '8b62e0c6001548d7b59f8240d79cb0d7', '2016-06-14T16:23:07Z'),
    data: {
      installation_id: INSTALLATION_ID,
      account_id: '052c3763ee0745c68a1f65f25b0bf273',
      account_name: 'starship',
      ...EXAMPLE_CREDENTIALS,
    },
    _links: {
      root: installationLinks.root,
      self: installationLinks.self,
      userinfo: { href: `${API}/users/me` },
      authorization: { href: 'https://starship.talkdeskid.com/oauth/authorize' },
      tokens: { href: 'https://starship.talkdeskid.com/oauth/token' },
      installation: installationLinks.installation,
      widget_url: { href: 'https://prd-cdn-talkdesk.talkdesk.com/tdconnect-widget/latest/td.connect.js' },
    },
  },
  'app.updated': {
    ...base('app.updated', 'a1c2e3f40b5d46e7a8b9c0d1e2f3a4b5', '2016-06-15T09:00:00Z'),
    data: {
      installation_id: INSTALLATION_ID,
      account_id: '052c3763ee0745c68a1f65f25b0bf273',
      account_name: 'starship',
      users: { adding: ['5f3a1c9e2b7d4e60a1b2c3d4', '5f3a1c9e2b7d4e60a1b2c3d5'], removing: ['5f3a1c9e2b7d4e60a1b2c3d6'] },
      subscription: { adding: { name: 'Pro', licenses: 10 }, removing: { name: 'Basic', licenses: 5 } },
    },
    _links: { root: installationLinks.root, self: installationLinks.self },
  },
  'app.uninstalled': {
    ...base('app.uninstalled', 'b2d3e4f50c6e47f8b9c0d1e2f3a4b5c6', '2016-07-01T12:00:00Z'),
    data: {
      installation_id: INSTALLATION_ID,
      account_id: '052c3763ee0745c68a1f65f25b0bf273',
      account_name: 'starship',
      reason: { type: 'user_request', message: 'No longer needed' },
    },
    _links: installationLinks,
  },
  'app.credentials_rotated': {
    ...base('app.credentials_rotated', 'c3e4f5a60d7f48a9c0d1e2f3a4b5c6d7', '2016-06-20T08:30:00Z'),
    data: {
      installation_id: INSTALLATION_ID,
      ...EXAMPLE_CREDENTIALS,
      client_id: '45fa20ab98764c1e9d2f3a4b5c6d7e8f',
      client_secret: 'Pq4wE7rT2yU9iO0pA5sD8fG1hJ6kL3zXcVbNm0QwEr',
      key_id: '9c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f',
      compromised: false,
    },
    _links: { ...installationLinks, tokens: { href: 'https://starship.talkdeskid.com/oauth/token' } },
  },
  'app.trial_started': {
    ...base('app.trial_started', 'd4f5a6b70e8a49b0d1e2f3a4b5c6d7e8', '2016-06-14T16:30:00Z'),
    data: { installation_id: INSTALLATION_ID, account_id: '052c3763ee0745c68a1f65f25b0bf273', expires_at: '2016-07-14T16:30:00Z' },
    _links: installationLinks,
  },
  'app.trial_ended': {
    ...base('app.trial_ended', 'e5a6b7c80f9b40c1e2f3a4b5c6d7e8f9', '2016-07-14T16:30:05Z'),
    data: {
      installation_id: INSTALLATION_ID,
      ended_at: '2016-07-14T16:30:00Z',
      expires_at: '2016-07-14T16:30:00Z',
      ended_reason: 'trial_expired',
      ended_by: 'system',
    },
    _links: {},
  },
  // Not in the reference: the fields of app.trial_extended are not documented.
  'app.trial_extended': {
    ...base('app.trial_extended', 'f6b7c8d90a0c41d2f3a4b5c6d7e8f9a0', '2016-07-10T16:30:00Z'),
    data: { installation_id: INSTALLATION_ID, account_id: '052c3763ee0745c68a1f65f25b0bf273', expires_at: '2016-07-28T16:30:00Z' },
    _links: installationLinks,
  },
};

/** A fresh (deep-copied) example body of the given type, safe to mutate. */
export function exampleEvent(type: EventType): Record<string, unknown> {
  return structuredClone(EXAMPLES[type]) as Record<string, unknown>;
}
