import type { EventLinks, KeyAlgorithm, LifecycleEvent } from '../../workflows/definitions';
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
function compact(values: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined));
}

/**
 * The non-secret facts of `data`, chosen field by field (an allow-list, so a field
 * Talkdesk adds later cannot leak a secret into workflow history).
 */
function factsOf(event: TalkdeskEvent): Record<string, unknown> {
  const common = { app_version_id: event.app_version_id, app_version_name: event.app_version_name };
  switch (event.type) {
    case 'app.installed':
      return compact({
        ...common,
        client_id: event.data.client_id,
        key_id: event.data.key_id,
        key_algorithm: event.data.key_algorithm,
      });
    case 'app.credentials_rotated':
      return compact({
        ...common,
        client_id: event.data.client_id,
        key_id: event.data.key_id,
        key_algorithm: event.data.key_algorithm,
        compromised: event.data.compromised,
      });
    case 'app.updated': {
      const { users, subscription } = event.data;
      return compact({
        ...common,
        users: users && compact({ adding: users.adding && [...users.adding], removing: users.removing && [...users.removing] }),
        subscription:
          subscription &&
          Object.fromEntries(Object.entries(subscription).map(([kind, c]) => [kind, { name: c.name, licenses: c.licenses }])),
      });
    }
    case 'app.uninstalled': {
      const { reason } = event.data;
      return compact({ ...common, reason: reason && compact({ type: reason.type, message: reason.message }) });
    }
    case 'app.trial_started':
      return compact({ ...common, expires_at: event.data.expires_at });
    case 'app.trial_ended':
      return compact({
        ...common,
        ended_at: event.data.ended_at,
        expires_at: event.data.expires_at,
        ended_reason: event.data.ended_reason,
        ended_by: event.data.ended_by,
      });
    default: {
      const unreachable: never = event;
      return unreachable;
    }
  }
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

/** What the workflow receives: ids and facts of a validated event, never its secrets. */
export function toLifecycleEvent(event: TalkdeskEvent): LifecycleEvent {
  const data: { account_id?: string; account_name?: string } = event.data;
  const out: LifecycleEvent = {
    eventId: event.id,
    type: event.type,
    createdAt: event.created_at,
    appId: event.app_id,
    installationId: event.data.installation_id,
    facts: factsOf(event),
    links: linksOf(event),
  };
  if (data.account_id !== undefined) out.accountId = data.account_id;
  if (data.account_name !== undefined) out.accountName = data.account_name;
  return out;
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
