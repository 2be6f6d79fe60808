import { z } from 'zod';
import { id, links, name, timestamp } from './fields';

/**
 * `user.logout` (talkdesk-sso.md section 6.1): optional, subscribed separately. Its envelope
 * has no app_version_id / app_version_name. Not a lifecycle event: it never reaches a workflow.
 */
export const userLogoutSchema = z.object({
  id,
  created_at: timestamp,
  api_version: z.literal('1', { message: 'must be "1"' }),
  type: z.literal('user.logout'),
  app_id: id,
  data: z.object({
    account_id: id,
    user_id: id,
    // Only the ids are needed to end sessions: an empty or null email (a user without one) must not lose the logout.
    user_email: z
      .union([name, z.literal(''), z.null()])
      .optional()
      .transform((e) => e || undefined),
    installation_id: id,
  }),
  _links: links([], ['root', 'self', 'user', 'installation']).default({}),
});
export type UserLogoutEvent = z.infer<typeof userLogoutSchema>;

export const isUserLogoutBody = (json: unknown): boolean =>
  typeof json === 'object' && json !== null && !Array.isArray(json) && (json as { type?: unknown }).type === 'user.logout';
