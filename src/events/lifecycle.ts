import type { EventLinks, KeyAlgorithm, LifecycleEvent, SignInLinks } from '../../workflows/definitions';
import type { CredentialEvent, TalkdeskEvent } from './schemas';

/** The credentials of an install or rotation, in our naming. Secret: encrypt before storing. */
export interface EventCredentials {
  clientId: string;
  clientSecret: string;
  privateKey: string;
  publicKey: string;
  keyId: string;
  keyAlgorithm: KeyAlgorithm;
}

/** Drops undefined values so the payload (and its JSON) holds only what the event said. */
function compact<T extends object>(values: T): T {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as T;
}

function linksOf(event: TalkdeskEvent): EventLinks {
  const links: Partial<Record<string, { href: string }>> = event._links;
  const out: EventLinks = {};
  for (const key of ['root', 'tokens', 'installation'] as const) {
    const href = links[key]?.href;
    if (href !== undefined) out[key] = href;
  }
  return out;
}

/** The links the launch routes sign users in with (src/store/sso-links.ts); tokens is in `links`. */
function signInLinksOf(event: TalkdeskEvent): { signInLinks?: SignInLinks } {
  const links: Partial<Record<string, { href: string }>> = event._links;
  const out = compact({ authorization: links.authorization?.href, userinfo: links.userinfo?.href, widgetUrl: links.widget_url?.href });
  return Object.keys(out).length ? { signInLinks: out } : {};
}

/**
 * What the workflow receives: ids and facts of a validated event, never its
 * secrets. The facts are chosen field by field (an allow-list, so a field
 * Talkdesk adds later cannot leak a secret into workflow history).
 */
export function toLifecycleEvent(event: TalkdeskEvent): LifecycleEvent {
  const data: { account_id?: string; account_name?: string } = event.data;
  const head = {
    eventId: event.id,
    createdAt: event.created_at,
    appId: event.app_id,
    installationId: event.data.installation_id,
  };
  const tail = {
    links: linksOf(event),
    ...(data.account_id !== undefined ? { accountId: data.account_id } : {}),
    ...(data.account_name !== undefined ? { accountName: data.account_name } : {}),
  };
  const version = { app_version_id: event.app_version_id, app_version_name: event.app_version_name };
  switch (event.type) {
    case 'app.installed': {
      const { client_id, key_id, key_algorithm } = event.data;
      return {
        ...head,
        type: event.type,
        facts: compact({ ...version, client_id, key_id, key_algorithm }),
        ...tail,
        ...signInLinksOf(event),
      };
    }
    case 'app.credentials_rotated': {
      const { client_id, key_id, key_algorithm, compromised } = event.data;
      const facts = compact({ ...version, client_id, key_id, key_algorithm, compromised });
      return { ...head, type: event.type, facts, ...tail, ...signInLinksOf(event) };
    }
    case 'app.updated': {
      const { users, subscription } = event.data;
      const facts = compact({
        ...version,
        users: users && compact({ adding: users.adding && [...users.adding], removing: users.removing && [...users.removing] }),
        subscription:
          subscription &&
          Object.fromEntries(Object.entries(subscription).map(([kind, c]) => [kind, { name: c.name, licenses: c.licenses }])),
      });
      return { ...head, type: event.type, facts, ...tail };
    }
    case 'app.uninstalled': {
      const { reason } = event.data;
      const facts = compact({ ...version, reason: reason && compact({ type: reason.type, message: reason.message }) });
      return { ...head, type: event.type, facts, ...tail };
    }
    case 'app.trial_started':
    case 'app.trial_extended':
      return { ...head, type: event.type, facts: compact({ ...version, expires_at: event.data.expires_at }), ...tail };
    case 'app.trial_ended': {
      const { ended_at, expires_at, ended_reason, ended_by } = event.data;
      return { ...head, type: event.type, facts: compact({ ...version, ended_at, expires_at, ended_reason, ended_by }), ...tail };
    }
    default: {
      const unreachable: never = event;
      return unreachable;
    }
  }
}

function isCredentialEvent(event: TalkdeskEvent): event is CredentialEvent {
  return event.type === 'app.installed' || event.type === 'app.credentials_rotated';
}

/** The credentials carried by app.installed / app.credentials_rotated; undefined for the rest. */
export function extractCredentials(event: TalkdeskEvent): EventCredentials | undefined {
  if (!isCredentialEvent(event)) return undefined;
  const d = event.data;
  return {
    clientId: d.client_id,
    clientSecret: d.client_secret,
    privateKey: d.private_key,
    publicKey: d.public_key,
    keyId: d.key_id,
    keyAlgorithm: d.key_algorithm,
  };
}
