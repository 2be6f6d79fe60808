import { callKey } from './keys';
import type { PartnerProvisioner, UserLogoutRequest } from './provisioner';

/**
 * Forwards a Talkdesk `user.logout` to the partner (the HTTP provisioner sends the
 * `user.logout` hook; the built-in one has nothing to do). Keyed by the event, so a
 * redelivered logout is the same call. A refusal is recorded by the provisioner;
 * a partner that is down makes this throw (retryable), and the caller decides
 * whether to try again. Returns false when the provisioner takes no logouts.
 */
export async function forwardUserLogout(
  partner: PartnerProvisioner,
  req: UserLogoutRequest,
  signal = new AbortController().signal,
): Promise<boolean> {
  if (!partner.userLogout) return false;
  await partner.userLogout(req, { key: callKey(req.installationId, req.eventId, 'user.logout'), occurredAt: req.occurredAt, signal });
  return true;
}
