import { z } from 'zod';
import type { EventType, KeyAlgorithm } from '../../workflows/definitions';
import { fieldPath, id, idList, keyAlgorithm, links, name, nullIsAbsent, secret, text, timestamp } from './fields';
import { withInstallationFromLinks } from './installation-from-links';

/**
 * The AppConnect lifecycle events (the six of the reference and app.trial_extended), one zod definition each: the definition
 * is both the TypeScript type and the runtime check of a callback body.
 * Field names and link sets follow Talkdesk's AppConnect event reference. Unknown keys
 * are dropped (Talkdesk may add fields); an unknown `type` is refused.
 */

/** The credentials an install or a rotation delivers; the only copy Talkdesk sends. */
const credentialsData = {
  client_id: id,
  client_secret: secret,
  private_key: secret,
  public_key: secret,
  key_id: id,
  key_algorithm: keyAlgorithm,
};

/** Links of credential-bearing events. Only root and tokens are needed to use the credentials. */
const INSTALL_LINKS = ['self', 'userinfo', 'authorization', 'installation', 'widget_url'] as const;

function envelope<T extends EventType, D extends z.ZodType, L extends z.ZodType>(type: T, data: D, linkSchema: L) {
  return z.object({
    id,
    created_at: timestamp,
    api_version: z.literal('1', { message: 'must be "1"' }),
    type: z.literal(type),
    app_id: id,
    app_version_id: id,
    app_version_name: name,
    data,
    _links: linkSchema,
  });
}

// Only app.installed must carry links (we need root and tokens to ever call the API).
// For the other types the reference lists links loosely or not at all, and refusing a
// real event over a missing link would lose it, so their links are all optional.
const optionalLinks = (...names: string[]) => links([], names).default({});

export const appInstalledSchema = envelope(
  'app.installed',
  z.object({
    installation_id: id,
    account_id: id,
    account_name: name,
    ...credentialsData,
  }),
  links(['root', 'tokens'], INSTALL_LINKS),
);

const subscriptionChange = z.object({
  name,
  // An integer count; accepted as a numeric string too, since the reference shows no example.
  licenses: z.union(
    [
      z.number().int().min(0).max(1e9),
      z
        .string()
        .regex(/^\d{1,9}$/)
        .transform(Number),
    ],
    {
      message: 'must be a non-negative integer',
    },
  ),
});

export const appUpdatedSchema = envelope(
  'app.updated',
  z.object({
    installation_id: id,
    account_id: id,
    account_name: name,
    // Keys appear only when they changed.
    users: nullIsAbsent(z.object({ adding: nullIsAbsent(idList), removing: nullIsAbsent(idList) })),
    subscription: nullIsAbsent(
      z
        .record(z.string().regex(/^[a-z][a-z_]{0,31}$/, 'must be a change kind such as adding'), subscriptionChange)
        .refine((v) => Object.keys(v).length <= 8, 'must hold at most 8 changes'),
    ),
  }),
  optionalLinks('root', 'self'),
);

export const appUninstalledSchema = envelope(
  'app.uninstalled',
  z.object({
    installation_id: id,
    account_id: id,
    account_name: name,
    reason: nullIsAbsent(z.object({ type: name, message: nullIsAbsent(text) })),
  }),
  optionalLinks('root', 'self', 'installation'),
);

export const appCredentialsRotatedSchema = envelope(
  'app.credentials_rotated',
  z.object({
    // The reference lists only the new credentials: without the id, it is taken from
    // `_links.installation` (installation-from-links.ts); with neither, the rotation cannot be routed.
    installation_id: id,
    account_id: nullIsAbsent(id),
    account_name: nullIsAbsent(name),
    ...credentialsData,
    // Not in the reference; our simulator sends it to mark a rotation without grace period.
    compromised: nullIsAbsent(z.boolean()),
  }),
  // The workflow still holds the install's links, so a rotation is not refused for lack of them.
  optionalLinks('root', 'tokens', ...INSTALL_LINKS),
);

export const appTrialStartedSchema = envelope(
  'app.trial_started',
  z.object({
    installation_id: id,
    account_id: id,
    account_name: nullIsAbsent(name),
    expires_at: timestamp,
  }),
  optionalLinks('root', 'self', 'installation'),
);

export const TRIAL_ENDED_REASONS = ['trial_expired', 'app_uninstalled', 'plan_upgraded'] as const;
export const TRIAL_ENDED_BY = ['system', 'user'] as const;

export const appTrialEndedSchema = envelope(
  'app.trial_ended',
  z.object({
    // Absent from the reference's table, but needed to route the event (or `_links.installation`).
    installation_id: id,
    account_id: nullIsAbsent(id),
    account_name: nullIsAbsent(name),
    ended_at: timestamp,
    expires_at: timestamp,
    ended_reason: z.enum(TRIAL_ENDED_REASONS, { message: `must be one of ${TRIAL_ENDED_REASONS.join(', ')}` }),
    ended_by: z.enum(TRIAL_ENDED_BY, { message: `must be one of ${TRIAL_ENDED_BY.join(', ')}` }),
  }),
  optionalLinks('root', 'self', 'installation'),
);

/**
 * Not in the reference (issue 13): the common envelope with `installation_id` and
 * `account_id`; `expires_at` is optional (checked like every timestamp when
 * present); any other field is dropped, never a reason to refuse the event.
 */
export const appTrialExtendedSchema = envelope(
  'app.trial_extended',
  z.object({
    installation_id: id,
    account_id: id,
    expires_at: nullIsAbsent(timestamp),
  }),
  optionalLinks('root', 'self', 'installation'),
);

export const talkdeskEventSchema = z.discriminatedUnion(
  'type',
  [
    appInstalledSchema,
    appUpdatedSchema,
    appUninstalledSchema,
    appCredentialsRotatedSchema,
    appTrialStartedSchema,
    appTrialEndedSchema,
    appTrialExtendedSchema,
  ],
  {
    message:
      'must be one of app.installed, app.updated, app.uninstalled, app.credentials_rotated, app.trial_started, app.trial_ended, app.trial_extended',
  },
);

export type TalkdeskEvent = z.infer<typeof talkdeskEventSchema>;
export type TalkdeskEventOf<T extends EventType> = Extract<TalkdeskEvent, { type: T }>;
export type AppInstalledEvent = TalkdeskEventOf<'app.installed'>;
export type AppUpdatedEvent = TalkdeskEventOf<'app.updated'>;
export type AppUninstalledEvent = TalkdeskEventOf<'app.uninstalled'>;
export type AppCredentialsRotatedEvent = TalkdeskEventOf<'app.credentials_rotated'>;
export type AppTrialStartedEvent = TalkdeskEventOf<'app.trial_started'>;
export type AppTrialEndedEvent = TalkdeskEventOf<'app.trial_ended'>;
export type AppTrialExtendedEvent = TalkdeskEventOf<'app.trial_extended'>;
export type CredentialEvent = AppInstalledEvent | AppCredentialsRotatedEvent;

// Compile-time guards: the local enums must stay equal to the workflow contract's lists.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _sameTypes: Same<TalkdeskEvent['type'], EventType> = true;
const _sameAlgorithms: Same<z.infer<typeof keyAlgorithm>, KeyAlgorithm> = true;

export type ParseEventResult = { ok: true; event: TalkdeskEvent } | { ok: false; error: { field: string; message: string } };

/**
 * Checks a parsed JSON body. On failure names the first problem by dotted path
 * (`data.key_algorithm`, `(root)` for the body itself); the message never quotes the value.
 */
export function parseEvent(json: unknown): ParseEventResult {
  const result = talkdeskEventSchema.safeParse(withInstallationFromLinks(json));
  if (result.success) return { ok: true, event: result.data };
  const issue = result.error.issues[0];
  if (!issue) return { ok: false, error: { field: '(root)', message: 'invalid event' } };
  const field = fieldPath(issue.path);
  return { ok: false, error: { field, message: issue.message } };
}

export { toLifecycleEvent, extractCredentials, type EventCredentials } from './lifecycle';
