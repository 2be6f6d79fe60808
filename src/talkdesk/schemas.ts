import { z } from 'zod';
import { MAX_NAME_LENGTH } from '../events/fields';

/**
 * Response bodies of the Talkdesk endpoints we call: one schema per body gives
 * both the TypeScript type and the runtime check. Unknown fields are dropped;
 * optional fields accept `null` (Talkdesk sends it) and come out as absent.
 */

/** Optional in the output type; null on the wire becomes undefined. */
const opt = <T extends z.ZodType>(schema: T) =>
  schema
    .nullish()
    .transform((v) => v ?? undefined)
    .optional();

const id = z.string().min(1);

/** Drops keys whose value is undefined, so that null and absent fields come out the same: absent. */
function compact<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

// ---- OAuth token -------------------------------------------------------

export const tokenResponseSchema = z.object({
  access_token: z.string().min(1),
  token_type: z.string().refine((t) => t.toLowerCase() === 'bearer', 'token_type must be Bearer'),
  expires_in: z.coerce.number().int().positive(),
  scope: opt(z.string()),
  /** The authorization_code grant's OpenID Connect ID token, when `openid` was requested. */
  id_token: opt(z.string()),
});

export interface TalkdeskToken {
  accessToken: string;
  tokenType: 'Bearer';
  /** Seconds, as Talkdesk sent them (600 today). */
  expiresIn: number;
  /** Space-separated granted scopes, '' when Talkdesk did not say. */
  scope: string;
  /** `scope` split. */
  scopes: string[];
  /** Epoch ms when the token expires, from our clock at request time. */
  expiresAt: number;
}

// ---- Account and users -------------------------------------------------

export const accountSchema = z
  .object({
    id,
    // Cut, not refused: it becomes a Keyword search attribute (TalkdeskAccountName), whose size the server bounds.
    name: z.string().transform((v) => v.slice(0, MAX_NAME_LENGTH)),
    company_name: opt(z.string()),
    timezone: opt(z.string()),
    created_at: opt(z.string()),
  })
  .transform(compact);
export type TalkdeskAccount = z.output<typeof accountSchema>;

export const userSchema = z
  .object({
    id,
    email: opt(z.string()),
    name: opt(z.string()),
    active: opt(z.boolean()),
  })
  .transform(compact);
export type TalkdeskUser = z.output<typeof userSchema>;

const hrefSchema = z.object({ href: z.string().min(1) });

/** GET /users/me: `sub`, `name`, `email` required; `id` optional (talkdesk-sso.md section 3). */
export const userInfoSchema = z
  .object({
    id: opt(id),
    sub: z.string().min(1).max(256),
    name: z.string().max(512),
    email: z.string().max(512),
  })
  .transform(compact);
export type TalkdeskUserInfo = z.output<typeof userInfoSchema>;

/** One page of a HAL users listing (licensed users and /users). */
export const usersPageSchema = z.object({
  total: opt(z.number().int().nonnegative()),
  page: opt(z.number().int().nonnegative()),
  per_page: opt(z.number().int().positive()),
  _embedded: opt(z.object({ users: z.array(userSchema) })),
  _links: opt(z.object({ next: opt(hrefSchema) })),
});
export type TalkdeskUsersPage = z.infer<typeof usersPageSchema>;

// ---- Installations -----------------------------------------------------

/** Documented installation states; others may appear later and are passed through. */
export const KNOWN_INSTALLATION_STATES = [
  'installing',
  'pending',
  'timeout',
  'completed',
  'failed',
  'rejected',
  'suspended',
  'revoked',
] as const;
export type KnownInstallationState = (typeof KNOWN_INSTALLATION_STATES)[number];

export const installationStateSchema = z
  .object({
    // A plain string on purpose: a state Talkdesk adds later must not fail the parse.
    state: z.string().min(1) as z.ZodType<KnownInstallationState | (string & {})>,
    reason: opt(z.string()),
    updated_at: opt(z.string()),
  })
  .transform(compact);
export type TalkdeskInstallationState = z.output<typeof installationStateSchema>;

export const installationSchema = z
  .object({
    id,
    app_id: id,
    account_id: id,
    scopes: z.array(z.string()),
    created_at: opt(z.string()),
    /** The Talkdesk user id of the administrator who installed the app (the account's admin for the app). */
    created_by: opt(z.string()),
    _embedded: z.object({ state: installationStateSchema }),
  })
  .transform(({ _embedded, ...rest }) => compact({ ...rest, state: _embedded.state }));
export type TalkdeskInstallation = z.output<typeof installationSchema>;

export type InstallationStateChange = { state: 'approve' } | { state: 'reject'; reason: string };

// ---- Errors --------------------------------------------------------------

/** Just enough of an error body to read its code: `{error}` (OAuth, state endpoint) or `{code}`. */
export const errorBodySchema = z.object({
  error: z.unknown().optional(),
  code: z.unknown().optional(),
});
